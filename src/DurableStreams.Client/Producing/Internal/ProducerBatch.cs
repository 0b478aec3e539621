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
internal sealed class ProducerBatch : IBufferWriter<byte>
{
    private static readonly int[] NoEnds = [];

    private byte[] _buffer;
    private int _length;
    private int[] _itemEnds = NoEnds;

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

    /// <summary>Whether the body is a JSON array of the items.</summary>
    public bool JsonLayout { get; private set; }

    /// <summary>Whether item boundaries are recorded, so the layout can still change (content type not yet known).</summary>
    public bool TrackItems { get; }

    /// <summary>The messages in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>The payload bytes of the messages, without brackets and commas.</summary>
    public long PayloadBytes { get; private set; }

    /// <summary>The body's size once sealed: the bytes so far plus the closing bracket.</summary>
    public int WireLength => _length + (JsonLayout && !Sealed ? 1 : 0);

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

    /// <summary>The body, once sealed.</summary>
    public ReadOnlyMemory<byte> Body => _buffer.AsMemory(0, _length);

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

    /// <summary>Returns the buffers to their pools; the batch is unusable afterwards.</summary>
    public void Release()
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
    }

    /// <summary>A request body over the sealed bytes (called for each attempt); <paramref name="written"/> runs once the whole body was written.</summary>
    public HttpContent CreateContent(Action<ProducerBatch>? written = null) => new BatchContent(this, Body, written);

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

    /// <summary>The sealed body, written without copying.</summary>
    private sealed class BatchContent(ProducerBatch batch, ReadOnlyMemory<byte> body, Action<ProducerBatch>? written) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
            written?.Invoke(batch);
        }

        protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            stream.Write(body.Span);
            written?.Invoke(batch);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
