using System;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading.Tasks;
using Acme.Fx;

namespace Invoicing;

/// <summary>
/// Issues an invoice: stamps it with the current time, converts the total with a third-party static API, archives
/// it as a text file and charges the customer's card. Every one of those is something a unit test must control.
/// </summary>
public sealed class InvoiceService(PaymentClient payments, string archiveDirectory)
{
    public const int PaymentTermDays = 30;

    public async Task<Invoice> IssueAsync(Order order)
    {
        var issued = DateTime.UtcNow;                                                   // the clock
        var netEur = order.Lines.Sum(l => l.Quantity * l.UnitPriceEur);
        var total = Math.Round(ExchangeRates.Convert(netEur, "EUR", order.Currency), 2); // static third-party API
        var number = $"INV-{issued:yyyyMMdd-HHmm}-{order.CustomerId}";
        var invoice = new Invoice(number, order.CustomerId, issued, issued.AddDays(PaymentTermDays), total, order.Currency);

        File.WriteAllText(Path.Combine(archiveDirectory, number + ".txt"), invoice.Render()); // the file system

        try
        {
            var paymentId = await payments.ChargeAsync(order.CardToken, total, order.Currency); // HTTP
            return invoice with { Status = InvoiceStatus.Paid, PaymentId = paymentId };
        }
        catch (HttpRequestException)
        {
            return invoice; // stays Unpaid; the dunning run picks it up later
        }
    }
}
