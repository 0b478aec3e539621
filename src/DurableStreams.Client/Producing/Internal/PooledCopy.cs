using System.Buffers;

namespace DurableStreams.Producing.Internal;

/// <summary>
/// A copy of one message in an array rented from the shared pool, owned like memory appended with
/// <see cref="IdempotentProducer.AppendAsync(IMemoryOwner{byte}, int, CancellationToken)"/>:
/// disposing it returns the array. The producer copies a batch-sized message into one of these
/// outside its lock, so that the sender of the previous batch is not kept waiting for the lock
/// while a megabyte is copied.
/// </summary>
internal sealed class PooledCopy : IMemoryOwner<byte>
{
    private byte[]? _array;

    public PooledCopy(ReadOnlySpan<byte> data)
    {
        _array = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(_array);
    }

    public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(PooledCopy));

    public void Dispose()
    {
        byte[]? array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
