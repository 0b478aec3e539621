using System.Buffers;
using System.Net;

namespace DurableStreams.Producing.Internal;

/// <summary>The life of one producer batch.</summary>
internal enum BatchState
{
    /// <summary>Receiving messages (the buffer's open batch), or a close batch being written.</summary>
    Open,

    /// <summary>Sealed and waiting for a request slot.</summary>
    Queued,

    /// <summary>Numbered (epoch, seq) and being sent, retries included.</summary>
    InFlight,

    /// <summary>The server stored it (or answered a resend as a duplicate of it).</summary>
    Acknowledged,

    /// <summary>It could not be stored; the producer's failure says why.</summary>
    Failed,

    /// <summary>Never answered: dropped unsent after a failure, or cut off when the producer stopped.</summary>
    Abandoned,
}

/// <summary>
/// One producer request body under construction, in a buffer rented from the shared pool. In JSON
/// layout it holds <c>[item,item,...]</c> (PROTOCOL.md §9.1.2: the server flattens one level, so
/// each item is one message); in byte layout the items are concatenated. The producer's lock
/// guards every member until the batch is sealed; after that only its sender reads it.
/// </summary>
/// <remarks>
/// A batch of one message appended with ownership (<see cref="Owning"/>) holds no copy: its body is
/// the caller's memory, framed by the brackets in JSON layout when it is written. Either way the
/// memory is freed (returned to the pool, or the owner disposed) exactly once, when the producer has
/// released the batch and no request body is being written from it any more.
/// </remarks>
internal sealed class ProducerBatch : IBufferWriter<byte>
{
    private static readonly int[] NoEnds = [];
    private static readonly ReadOnlyMemory<byte> JsonOpen = "["u8.ToArray();
    private static readonly ReadOnlyMemory<byte> JsonClose = "]"u8.ToArray();

    private byte[] _buffer;
    private int _length;
    private int[] _itemEnds = NoEnds;
    private IDisposable? _owner;
    private ReadOnlyMemory<byte> _owned;

    // One hold for the producer (until Release) and one per request body being written: the memory
    // is freed when the last one ends, so a body still being read by the connection after the
    // request's outcome is final never reads memory that was freed (and maybe reused).
    private int _holds = 1;
    private int _released;

    public ProducerBatch(bool jsonLayout, bool trackItems, int expectedSize)
    {
        JsonLayout = jsonLayout;
        TrackItems = trackItems;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(expectedSize, 16));
        if (jsonLayout)
        {
            _buffer[0] = (byte)'[';
            _length = 1;
        }
    }

    private ProducerBatch(IDisposable owner, ReadOnlyMemory<byte> message, bool jsonLayout, bool trackItems)
    {
        _buffer = [];
        _owner = owner;
        _owned = message;
        JsonLayout = jsonLayout;
        TrackItems = trackItems;
        Count = 1;
        PayloadBytes = message.Length;
        Sealed = true;
    }

    /// <summary>Whether the body is a JSON array of the items.</summary>
    public bool JsonLayout { get; private set; }

    /// <summary>Whether item boundaries are recorded, so the layout can still change (content type not yet known).</summary>
    public bool TrackItems { get; }

    /// <summary>The messages in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>The payload bytes of the messages, without brackets and commas.</summary>
    public long PayloadBytes { get; private set; }

    /// <summary>The body's size once sealed: the bytes so far plus the closing bracket.</summary>
    public int WireLength => _owner is not null ? _owned.Length + (JsonLayout ? 2 : 0) : _length + (JsonLayout && !Sealed ? 1 : 0);

    public bool Sealed { get; private set; }

    /// <summary>A close request (<c>Stream-Closed: true</c>); its body may be empty.</summary>
    public bool IsClose { get; init; }

    /// <summary>Position in append order, from 0, assigned when sealed; never reused.</summary>
    public long Ordinal { get; set; } = -1;

    /// <summary>The epoch and sequence number the batch is (re)sent with; assigned at dispatch.</summary>
    public long Epoch { get; set; }

    public long Seq { get; set; } = -1;

    /// <summary>Where the batch is in its life; changed under the producer's lock.</summary>
    public BatchState State { get; set; }

    /// <summary>Whether the batch is finished: acknowledged, failed or abandoned.</summary>
    public bool IsDone => State is BatchState.Acknowledged or BatchState.Failed or BatchState.Abandoned;

    /// <summary>An attempt got no answer, so the server may or may not have stored the current (epoch, seq).</summary>
    public bool Ambiguous { get; set; }

    /// <summary>Whether the body of an attempt has been handed to the connection in full. Changed under the producer's lock.</summary>
    public bool BodySent { get; set; }

    /// <summary>The response's <c>Stream-Next-Offset</c>, on success.</summary>
    public Offset? NextOffset { get; set; }

    /// <summary>The body's length once sealed (zero for a close without a final message).</summary>
    public int BodyLength => WireLength;

    /// <summary>
    /// A sealed batch of one message whose body is <paramref name="message"/> itself, not a copy;
    /// <paramref name="owner"/> is disposed when the memory is freed.
    /// </summary>
    public static ProducerBatch Owning(IDisposable owner, ReadOnlyMemory<byte> message, bool jsonLayout, bool trackItems) =>
        new(owner, message, jsonLayout, trackItems);

    /// <summary>Starts an item: writes the separator and returns the position where the item starts.</summary>
    public int BeginItem()
    {
        if (JsonLayout && Count > 0)
        {
            GetSpan(1)[0] = (byte)',';
            _length++;
        }

        return _length;
    }

    /// <summary>The bytes written since <paramref name="start"/>.</summary>
    public ReadOnlySpan<byte> ItemSince(int start) => _buffer.AsSpan(start, _length - start);

    /// <summary>Undoes a started item, separator included.</summary>
    public void RollbackItem(int start) => _length = JsonLayout && Count > 0 ? start - 1 : start;

    /// <summary>Completes the item started at <paramref name="start"/>.</summary>
    public void EndItem(int start)
    {
        if (TrackItems)
        {
            if (Count == _itemEnds.Length)
            {
                int[] bigger = ArrayPool<int>.Shared.Rent(Math.Max(16, Count * 2));
                _itemEnds.AsSpan().CopyTo(bigger);
                ReturnEnds();
                _itemEnds = bigger;
            }

            _itemEnds[Count] = _length;
        }

        PayloadBytes += _length - start;
        Count++;
    }

    /// <summary>Removes the last item (started at <paramref name="start"/>) and returns a copy of its bytes' location for moving.</summary>
    public void RemoveLastItem(int start)
    {
        PayloadBytes -= _length - start;
        Count--;
        _length = JsonLayout && Count > 0 ? start - 1 : start;
    }

    /// <summary>Appends raw bytes as one whole item.</summary>
    public void AddItem(ReadOnlySpan<byte> item)
    {
        int start = BeginItem();
        item.CopyTo(GetSpan(item.Length));
        _length += item.Length;
        EndItem(start);
    }

    /// <summary>Closes the JSON array; the body is final.</summary>
    public void Seal()
    {
        if (Sealed)
        {
            return;
        }

        if (JsonLayout)
        {
            if (Count == 0)
            {
                // A close without a final message has no body at all (PROTOCOL.md §5.3).
                _length = 0;
            }
            else
            {
                GetSpan(1)[0] = (byte)']';
                _length++;
            }
        }

        Sealed = true;
    }

    /// <summary>
    /// Turns a sealed JSON-layout batch built before the content type was known into byte layout,
    /// in place: the items are concatenated without brackets and commas.
    /// </summary>
    public void ConvertToByteLayout()
    {
        if (!JsonLayout || !TrackItems)
        {
            return;
        }

        if (_owner is not null)
        {
            // One message, framed only when written.
            JsonLayout = false;
            return;
        }

        int write = 0;
        int start = 1;
        for (int i = 0; i < Count; i++)
        {
            int end = _itemEnds[i];
            _buffer.AsSpan(start, end - start).CopyTo(_buffer.AsSpan(write));
            write += end - start;
            start = end + 1;
        }

        _length = write;
        JsonLayout = false;
    }

    /// <summary>
    /// The producer is done with the batch (its outcome is final, or it was never sent): the memory
    /// is freed now, or when the last request body still being written from it ends. A second call
    /// does nothing.
    /// </summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            EndHold();
        }
    }

    /// <summary>A request body over the sealed bytes (called for each attempt); <paramref name="written"/> runs once the whole body was written.</summary>
    public HttpContent CreateContent(Action<ProducerBatch>? written = null) => new BatchContent(this, written);

    /// <summary>Starts writing a request body: the memory stays until <see cref="EndHold"/>. False once the memory was freed.</summary>
    private bool TryHold()
    {
        int holds = Volatile.Read(ref _holds);
        while (holds > 0)
        {
            int seen = Interlocked.CompareExchange(ref _holds, holds + 1, holds);
            if (seen == holds)
            {
                return true;
            }

            holds = seen;
        }

        return false;
    }

    private void EndHold()
    {
        if (Interlocked.Decrement(ref _holds) == 0)
        {
            Free();
        }
    }

    /// <summary>Returns the buffers to their pools, or disposes the owner of the caller's memory; runs once.</summary>
    private void Free()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        ReturnEnds();
        _itemEnds = NoEnds;
        IDisposable? owner = _owner;
        _owned = default;
        owner?.Dispose();
    }

    /// <summary>Writes the sealed body: the buffer, or the owned message framed by the JSON brackets when in JSON layout.</summary>
    private async ValueTask WriteBodyAsync(Stream stream, CancellationToken cancellationToken)
    {
        if (_owner is null)
        {
            await stream.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
            return;
        }

        if (JsonLayout)
        {
            await stream.WriteAsync(JsonOpen, cancellationToken).ConfigureAwait(false);
        }

        await stream.WriteAsync(_owned, cancellationToken).ConfigureAwait(false);
        if (JsonLayout)
        {
            await stream.WriteAsync(JsonClose, cancellationToken).ConfigureAwait(false);
        }
    }

    private void WriteBody(Stream stream)
    {
        if (_owner is null)
        {
            stream.Write(_buffer.AsSpan(0, _length));
            return;
        }

        if (JsonLayout)
        {
            stream.Write(JsonOpen.Span);
        }

        stream.Write(_owned.Span);
        if (JsonLayout)
        {
            stream.Write(JsonClose.Span);
        }
    }

    public void Advance(int count) => _length += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    private void Ensure(int sizeHint)
    {
        int needed = _length + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        int size = Math.Max(needed, _buffer.Length * 2);
        byte[] bigger = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private void ReturnEnds()
    {
        if (_itemEnds.Length > 0)
        {
            ArrayPool<int>.Shared.Return(_itemEnds);
        }
    }

    /// <summary>The sealed body, written without copying; the batch's memory is held while it is written.</summary>
    private sealed class BatchContent(ProducerBatch batch, Action<ProducerBatch>? written) : HttpContent
    {
        private readonly int _length = batch.BodyLength;

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            Hold();
            try
            {
                await batch.WriteBodyAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                batch.EndHold();
            }

            written?.Invoke(batch);
        }

        protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            Hold();
            try
            {
                batch.WriteBody(stream);
            }
            finally
            {
                batch.EndHold();
            }

            written?.Invoke(batch);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }

        private void Hold()
        {
            if (!batch.TryHold())
            {
                // Only reachable if a handler wrote the body after the batch's outcome was final.
                throw new ObjectDisposedException(nameof(ProducerBatch), "The producer batch's request body was written after the batch was finished.");
            }
        }
    }
}
