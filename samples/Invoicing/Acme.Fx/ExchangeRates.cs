using System;
using System.Globalization;
using System.Net.Http;

namespace Acme.Fx;

/// <summary>A typical third-party static API: no interface, no seam, and it goes to the network.</summary>
public static class ExchangeRates
{
    static readonly HttpClient Http = new() { BaseAddress = new Uri("https://fx.acme.example/"), Timeout = TimeSpan.FromSeconds(5) };

    public static decimal Convert(decimal amount, string from, string to)
    {
        if (from == to)
            return amount;
        var rate = Http.GetStringAsync($"rates/{from}/{to}").GetAwaiter().GetResult();
        return amount * decimal.Parse(rate, CultureInfo.InvariantCulture);
    }
}
