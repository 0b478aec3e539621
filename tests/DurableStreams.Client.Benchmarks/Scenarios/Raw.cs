using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>The baseline's HTTP work, done by hand with a bare HttpClient, and stream set-up shared by both sides.</summary>
internal static class Raw
{
    public const string Json = "application/json";
    private static readonly MediaTypeHeaderValue JsonType = new(Json);

    /// <summary>Exactly 100 bytes of JSON, <c>{"id":n,"pad":"xxx…"}</c>.</summary>
    public static byte[] Message(int id) => Encoding.UTF8.GetBytes(InProcess.CannedBodies.Message(id));

    /// <summary>Creates a JSON stream (set-up, not measured) and returns its URL.</summary>
    public static async Task<Uri> CreateJsonStreamAsync(SharedClients clients, string prefix)
    {
        CreateStreamResult created = await clients.Client.CreateStreamAsync(new CreateOptions
        {
            Url = ProducerScenario.NewUrl(clients.BaseUrl, prefix),
            ContentType = Json,
        });
        return created.Stream.Url;
    }

    /// <summary>A plain append (PROTOCOL.md §5.2): POST the body, expect 200/204.</summary>
    public static async Task AppendAsync(HttpClient http, Uri url, byte[] body, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = JsonType;
        using HttpResponseMessage response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))
        {
            throw new InvalidOperationException($"POST {url} failed: {(int)response.StatusCode}");
        }
    }

    /// <summary>The stream's tail offset from HEAD (PROTOCOL.md §5.5).</summary>
    public static async Task<string> TailAsync(HttpClient http, Uri url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, url);
        using HttpResponseMessage response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("Stream-Next-Offset").Single();
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.First() : "";
}
