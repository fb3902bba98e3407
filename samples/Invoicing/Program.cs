using System;
using System.IO;
using System.Net.Http;
using Invoicing;

// Runs the real thing: real clock, real disk, and a payment service expected on localhost:5099 (absent in a demo,
// so the invoice comes out Unpaid). The tests in ../Invoicing.Tests run the same code with all of that redirected.
var archive = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "invoicing-sample")).FullName;
using var http = new HttpClient { BaseAddress = new Uri("http://localhost:5099/"), Timeout = TimeSpan.FromSeconds(2) };
var service = new InvoiceService(new PaymentClient(http), archive);
var order = new Order("C042", "EUR", "tok_visa", [new OrderLine("Consulting (hours)", 3, 120m)]);
var invoice = await service.IssueAsync(order);
Console.WriteLine($"{invoice.Number}: {invoice.Total} {invoice.Currency}, {invoice.Status}, archived in {archive}");
