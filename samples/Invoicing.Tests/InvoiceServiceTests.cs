using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Reflection;
using System.Threading.Tasks;
using Acme.Fx;
using Hybrid;
using NUnit.Framework;

namespace Invoicing.Tests;

/// <summary>
/// InvoiceService reads the clock, calls a static vendor API, writes a file and makes an HTTP call - and has no
/// seams for any of it. Each test redirects exactly those four methods and restores them afterwards.
/// </summary>
public class InvoiceServiceTests
{
    static readonly MethodInfo UtcNow = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
    static readonly MethodInfo WriteAllText = typeof(File).GetMethod(nameof(File.WriteAllText), [typeof(string), typeof(string)])!;
    static readonly MethodInfo Convert = typeof(ExchangeRates).GetMethod(nameof(ExchangeRates.Convert))!;
    static readonly MethodInfo ChargeAsync = typeof(PaymentClient).GetMethod(nameof(PaymentClient.ChargeAsync))!;

    static readonly DateTime Now = new(2025, 1, 31, 9, 30, 0, DateTimeKind.Utc);
    static readonly Order Order = new("C042", "USD", "tok_visa", [new OrderLine("Consulting (hours)", 3, 120m)]);

    readonly List<Redirection> redirections = [];
    readonly Dictionary<string, string> archive = [];
    InvoiceService service = null!;

    [SetUp]
    public void RedirectTheOutsideWorld()
    {
        Redirect(UtcNow, () => Now);
        Redirect(WriteAllText, (string path, string? text) => { archive[Path.GetFileName(path)] = text ?? ""; });
        Redirect(Convert, (decimal amount, string from, string to) => to == "USD" ? amount * 1.04m : amount);
        Redirect(ChargeAsync, (PaymentClient self, string card, decimal amount, string currency) => Task.FromResult(FormattableString.Invariant($"ch_{card}_{amount}")));
        service = new InvoiceService(new PaymentClient(new HttpClient { BaseAddress = new Uri("http://payments.invalid/") }), "/invoices");
    }

    [TearDown]
    public void Restore()
    {
        foreach (var redirection in redirections)
            redirection.Dispose();
        redirections.Clear();
    }

    [Test]
    public async Task IssuesAPaidInvoiceDueInThirtyDays()
    {
        var invoice = await service.IssueAsync(Order);

        Assert.That(invoice.Number, Is.EqualTo("INV-20250131-0930-C042"));
        Assert.That(invoice.DueUtc, Is.EqualTo(new DateTime(2025, 3, 2, 9, 30, 0, DateTimeKind.Utc)));
        Assert.That(invoice.Total, Is.EqualTo(374.40m));
        Assert.That(invoice.Status, Is.EqualTo(InvoiceStatus.Paid));
        Assert.That(invoice.PaymentId, Is.EqualTo("ch_tok_visa_374.40"));
    }

    [Test]
    public async Task ArchivesTheRenderedInvoice()
    {
        await service.IssueAsync(Order);

        Assert.That(archive.Keys, Is.EquivalentTo(new[] { "INV-20250131-0930-C042.txt" }));
        Assert.That(archive["INV-20250131-0930-C042.txt"], Does.Contain("Total 374.40 USD"));
    }

    [Test]
    public async Task ADeclinedCardLeavesTheInvoiceUnpaid()
    {
        redirections.Find(r => r.Method == ChargeAsync)!.Dispose();
        Redirect(ChargeAsync, (PaymentClient self, string card, decimal amount, string currency)
            => Task.FromException<string>(new HttpRequestException("402 Payment Required")));

        var invoice = await service.IssueAsync(Order);

        Assert.That(invoice.Status, Is.EqualTo(InvoiceStatus.Unpaid));
        Assert.That(invoice.PaymentId, Is.Null);
    }

    [Test]
    public void TheOriginalStaysCallable()
    {
        // A redirect can delegate to the real implementation; Convert does no network call for EUR -> EUR.
        var original = redirections.Find(r => r.Method == Convert)!.GetOriginal<Func<decimal, string, string, decimal>>();
        Assert.That(original(10m, "EUR", "EUR"), Is.EqualTo(10m));
        Assert.That(ExchangeRates.Convert(10m, "EUR", "USD"), Is.EqualTo(10.40m));
    }

    void Redirect(MethodInfo method, Delegate replacement)
    {
        var redirection = Engine.Redirect(method, replacement);
        redirections.Add(redirection);
        // What `dotnet test` prints with --logger "console;verbosity=detailed": which method went where, and how.
        TestContext.Out.WriteLine($"redirected {method.DeclaringType!.Name + "." + method.Name,-28} via {redirection.Strategy}");
    }
}
