using System;
using System.Collections.Generic;
using System.Globalization;

namespace Invoicing;

public sealed record OrderLine(string Description, int Quantity, decimal UnitPriceEur);

public sealed record Order(string CustomerId, string Currency, string CardToken, IReadOnlyList<OrderLine> Lines);

public enum InvoiceStatus { Paid, Unpaid }

public sealed record Invoice(string Number, string CustomerId, DateTime IssuedUtc, DateTime DueUtc, decimal Total, string Currency)
{
    public InvoiceStatus Status { get; init; } = InvoiceStatus.Unpaid;

    public string? PaymentId { get; init; }

    public string Render() => string.Create(CultureInfo.InvariantCulture,
        $"Invoice {Number}\nCustomer {CustomerId}\nIssued {IssuedUtc:yyyy-MM-dd}, due {DueUtc:yyyy-MM-dd}\nTotal {Total:0.00} {Currency}\n");
}
