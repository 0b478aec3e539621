using System.Text.Json;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>
/// The server's webhook signing keys (PROTOCOL.md §6.5), fetched from the JWKS URL and kept for the
/// response's <c>Cache-Control: max-age</c>; an unknown <c>kid</c> refetches at once (a key
/// rotation), at most once per 10 seconds so forged kids cannot hammer the server.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Lives as long as its endpoint; a SemaphoreSlim whose wait handle is never used holds nothing to release.")]
internal sealed class JwksCache
{
    private static readonly HttpClient SharedHttp = new() { Timeout = TimeSpan.FromSeconds(10) };
    private static readonly TimeSpan MinRefetch = TimeSpan.FromSeconds(10);

    private readonly Uri _url;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private DateTimeOffset _expires = DateTimeOffset.MinValue;
    private DateTimeOffset _fetched = DateTimeOffset.MinValue;

    public JwksCache(Uri url, HttpClient? http, TimeProvider time)
    {
        _url = url;
        _http = http ?? SharedHttp;
        _time = time;
    }

    public int Fetches { get; private set; }

    public async Task<byte[]?> GetKeyAsync(string kid, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (now < _expires && _keys.TryGetValue(kid, out byte[]? key))
        {
            return key;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            now = _time.GetUtcNow();
            bool stale = now >= _expires;
            if (!_keys.ContainsKey(kid) || stale)
            {
                if (stale || now - _fetched >= MinRefetch)
                {
                    await FetchAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return _keys.GetValueOrDefault(kid);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task FetchAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await _http.GetAsync(_url, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (doc.RootElement.TryGetProperty("keys", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement jwk in list.EnumerateArray())
            {
                if (jwk.TryGetProperty("kty", out JsonElement kty) && kty.GetString() == "OKP" &&
                    jwk.TryGetProperty("crv", out JsonElement crv) && crv.GetString() == "Ed25519" &&
                    jwk.TryGetProperty("kid", out JsonElement kid) && kid.GetString() is { } id &&
                    jwk.TryGetProperty("x", out JsonElement x) && x.GetString() is { } encoded &&
                    WebhookSignature.Base64Url(encoded) is { } publicKey)
                {
                    keys[id] = publicKey;
                }
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        TimeSpan maxAge = response.Headers.CacheControl?.MaxAge ?? TimeSpan.Zero;
        _keys = keys;
        _fetched = now;
        _expires = now + maxAge;
        Fetches++;
    }
}
