using System.Net.Http;
using System.Net.Http.Json;
using System.Threading.Tasks;

namespace Invoicing;

/// <summary>Talks to the payment provider over HTTP. A concrete class with no interface, as such clients often are.</summary>
public class PaymentClient(HttpClient http)
{
    public async Task<string> ChargeAsync(string cardToken, decimal amount, string currency)
    {
        using var response = await http.PostAsJsonAsync("charges", new { cardToken, amount, currency });
        response.EnsureSuccessStatusCode();
        var charge = await response.Content.ReadFromJsonAsync<Charge>();
        return charge!.Id;
    }

    sealed record Charge(string Id);
}
