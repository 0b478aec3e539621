namespace DurableStreams.Tests;

/// <summary>
/// Tests that measure what this thread allocates run alone, after the parallel ones: no other test's
/// work can then land on the measured thread.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurementCollection
{
    public const string Name = "Allocation measurements";
}
