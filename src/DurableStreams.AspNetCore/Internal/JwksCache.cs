using System.Text.Json;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>
/// The server's webhook signing keys (PROTOCOL.md §6.5), fetched from the JWKS URL and kept for the
/// response's <c>Cache-Control: max-age</c>; an unknown <c>kid</c> refetches at once (a key
/// rotation), at most once per 10 seconds so forged kids cannot hammer the server. A failed fetch
/// throws <see cref="JwksUnavailableException"/>; for 10 seconds after it, lookups that would fetch
/// fail the same way without asking again.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Lives as long as its endpoint; a SemaphoreSlim whose wait handle is never used holds nothing to release.")]
internal sealed class JwksCache
{
    private static readonly HttpClient SharedHttp = new() { Timeout = TimeSpan.FromSeconds(10) };
    private static readonly TimeSpan MinRefetch = TimeSpan.FromSeconds(10);

    private readonly Uri _url;
    private readonly Func<HttpClient> _http;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private DateTimeOffset _expires = DateTimeOffset.MinValue;
    private DateTimeOffset _fetched = DateTimeOffset.MinValue;
    private JwksUnavailableException? _failure;
    private DateTimeOffset _failedUntil = DateTimeOffset.MinValue;

    /// <param name="url">The key set's URL.</param>
    /// <param name="http">Gives the client for one fetch (from IHttpClientFactory, the options, or a shared default).</param>
    /// <param name="time">The clock.</param>
    public JwksCache(Uri url, Func<HttpClient>? http, TimeProvider time)
    {
        _url = url;
        _http = http ?? (static () => SharedHttp);
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
                    if (_failure is not null && now < _failedUntil)
                    {
                        throw _failure;
                    }

                    try
                    {
                        await FetchAsync(cancellationToken).ConfigureAwait(false);
                        _failure = null;
                    }
                    catch (JwksUnavailableException ex)
                    {
                        _failure = ex;
                        _failedUntil = now + MinRefetch;
                        throw;
                    }
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
        try
        {
            await FetchCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException)
        {
            // OperationCanceledException without the caller's token is the HttpClient's timeout.
            throw new JwksUnavailableException($"Fetching the webhook signing keys from {_url} failed: {ex.Message}", ex);
        }
    }

    private async Task FetchCoreAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await _http().GetAsync(_url, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd() + ".");
        }

        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("The key set is not a JSON object.");
        }

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

/// <summary>The signing keys could not be fetched, so no delivery can be verified for now.</summary>
internal sealed class JwksUnavailableException(string message, Exception inner) : Exception(message, inner);
