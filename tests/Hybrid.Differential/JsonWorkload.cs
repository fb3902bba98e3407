using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Serialization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Newtonsoft.Json;
using Newtonsoft.Json.Converters;
using Newtonsoft.Json.Linq;
using Newtonsoft.Json.Serialization;

namespace Hybrid.Differential;

// The object graph of the Newtonsoft.Json workloads. It lives in the lane (never redirected), so every method that
// runs inside Newtonsoft.Json is the library's own: contract resolution, reflection-built accessors, the reader and
// writer loops, converters, LINQ to JSON and JSONPath.

public enum OrderStatus { Pending, Paid, Shipped, Delivered, Cancelled, ReturnRequested }

[Flags]
public enum LineFlags { None = 0, Gift = 1, Express = 2, Fragile = 4, Insured = 8, Oversized = 16 }

/// <summary>A sorted map with ordinal keys: the default comparer of a SortedDictionary is culture-sensitive, and
/// Newtonsoft.Json creates the declared type through its parameterless constructor, so this fixes the order.</summary>
public sealed class OrdinalMap<T> : SortedDictionary<string, T>
{
    public OrdinalMap() : base(StringComparer.Ordinal)
    {
    }
}

/// <summary>A struct with public fields (set on a boxed copy while deserializing).</summary>
public struct Money
{
    public decimal Amount;
    public string Currency;
}

/// <summary>A struct with properties, used nullable and through a custom converter.</summary>
public struct GeoPoint
{
    public double Latitude { get; set; }
    public double Longitude { get; set; }
}

public sealed class Address
{
    public string Street { get; set; } = "";
    public string City { get; set; } = "";
    public string? PostalCode { get; set; }
    public string Country { get; set; } = "";
    public GeoPoint? Location { get; set; }
}

public sealed class Customer
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string Email { get; set; } = "";
    public Address Billing { get; set; } = new();
    public Address? Shipping { get; set; }
    public List<string> Tags { get; set; } = new();
    public OrdinalMap<string> Attributes { get; set; } = new();
    public DateTime Registered { get; set; }
    public int? LoyaltyPoints { get; set; }

    [JsonIgnore]
    public int Secret { get; set; }
}

public sealed class OrderLine
{
    public int Sku { get; set; }
    public string Description { get; set; } = "";
    public int Quantity { get; set; }
    public Money UnitPrice { get; set; }
    public double Weight { get; set; }
    public decimal? Discount { get; set; }
    public LineFlags Flags { get; set; }
    public float Rating { get; set; }
}

/// <summary>Immutable: deserialized through its constructor (the creator-parameter path of the serializer).</summary>
public sealed class Shipment
{
    [JsonConstructor]
    public Shipment(string carrier, DateTimeOffset dispatched, TimeSpan transit, IReadOnlyList<string> legs, long? trackingNumber)
    {
        Carrier = carrier;
        Dispatched = dispatched;
        Transit = transit;
        Legs = legs;
        TrackingNumber = trackingNumber;
    }

    public string Carrier { get; }
    public DateTimeOffset Dispatched { get; }
    public TimeSpan Transit { get; }
    public IReadOnlyList<string> Legs { get; }
    public long? TrackingNumber { get; }
}

public sealed class Order
{
    [JsonProperty(Order = -2)]
    public long Number { get; set; }
    public Guid Id { get; set; }
    public Customer Customer { get; set; } = new();
    public List<OrderLine> Lines { get; set; } = new();
    [JsonConverter(typeof(StringEnumConverter))]
    public OrderStatus Status { get; set; }
    public DateTime Created { get; set; }
    public DateTimeOffset? Delivered { get; set; }
    public Shipment? Shipment { get; set; }
    public TimeSpan Handling { get; set; }
    public OrdinalMap<decimal> Totals { get; set; } = new();
    public SortedDictionary<int, string> Notes { get; set; } = new();
    public int[] Ratings { get; set; } = Array.Empty<int>();
    public byte[]? Attachment { get; set; }
    public Uri? Tracking { get; set; }
    public char Priority { get; set; }
    public bool Paid { get; set; }
    public double Score { get; set; }
    public ulong Checksum { get; set; }
    public object?[] Extras { get; set; } = Array.Empty<object?>();
    [JsonProperty("x-legacy", NullValueHandling = NullValueHandling.Include)]
    public string? Legacy { get; set; }
    [JsonExtensionData]
    public OrdinalMap<JToken>? Extension { get; set; }

    [JsonIgnore]
    public int Callbacks { get; private set; }

    public bool ShouldSerializeAttachment() => Attachment is { Length: > 0 };

    [OnDeserialized]
    internal void OnDeserialized(StreamingContext context) => Callbacks++;
}

public sealed class Shop
{
    public string Name { get; set; } = "";
    public DateTimeOffset Opened { get; set; }
    public Version? Schema { get; set; }
    public List<Customer> Customers { get; set; } = new();
    public List<Order> Orders { get; set; } = new();
    public SortedDictionary<OrderStatus, int> ByStatus { get; set; } = new();
    public SortedDictionary<Guid, decimal> Balances { get; set; } = new();
    public OrdinalMap<List<long>> Index { get; set; } = new();
    public List<KeyValuePair<string, int>> Counters { get; set; } = new();
    public double[] Samples { get; set; } = Array.Empty<double>();
    public string LongText { get; set; } = "";
}

/// <summary>A user converter: a geo point as a two-element array.</summary>
internal sealed class GeoPointConverter : JsonConverter<GeoPoint>
{
    public override void WriteJson(JsonWriter writer, GeoPoint value, JsonSerializer serializer)
    {
        writer.WriteStartArray();
        writer.WriteValue(value.Latitude);
        writer.WriteValue(value.Longitude);
        writer.WriteEndArray();
    }

    public override GeoPoint ReadJson(JsonReader reader, Type objectType, GeoPoint existingValue, bool hasExistingValue, JsonSerializer serializer)
    {
        var array = JArray.Load(reader);
        return new GeoPoint { Latitude = (double)array[0], Longitude = (double)array[1] };
    }
}

/// <summary>
/// Deterministic Newtonsoft.Json workloads over a generated <see cref="Shop"/>. Everything that could depend on the
/// machine is pinned: invariant culture, ordinal maps, a seeded generator, and time zones kept out — every DateTime
/// is UTC (a zone-less date string read as a DateTimeOffset takes the machine's offset) and no reader parses dates as
/// DateTime (a string with an offset would become local time). Each returns a digest of everything it produced.
/// </summary>
internal static class JsonWorkload
{
    /// <summary>Strings that reach the writer's escaping paths: quotes, control characters, HTML, non-ASCII, surrogate
    /// pairs, the JavaScript line separators.</summary>
    private static readonly string[] s_fragments =
    {
        "plain words ", "quote \" and backslash \\ ", "tab\tnewline\ncr\r ", "control \u0001\u001f\u007f ",
        "html <b>&amp;</b> 'single' ", "café naïve ", "Ελληνικά ", "日本語テキスト ", "emoji 😀👍🏽 ",
        "line sep \u2028 para sep \u2029 ", "nul\u0000zero\u200bwidth ", "\\u0041 literal ", "/slash/ ", "€100 ",
    };

    private static readonly string[] s_countries = { "Deutschland", "France", "Danmark", "España", "日本", "United Kingdom", "Ísland" };
    private static readonly string[] s_carriers = { "DHL", "UPS", "La Poste", "Yamato \"Kuroneko\"" };

    /// <summary>Builds the graph: lane code only, so the caller may run it before anything is redirected.</summary>
    public static Shop CreateShop(int orders, int seed)
    {
        var random = new Random(seed);
        var shop = new Shop
        {
            Name = "Hybrid \"differential\" shop — ünïcödé & <escapes>",
            Opened = new DateTimeOffset(2019, 4, 1, 9, 30, 15, 123, TimeSpan.FromHours(2)),
            Schema = new Version(3, 1, 4, 15),
            LongText = LongText(256 * 1024),
            Samples = new[] { 0.0, -0.0, 0.1, 1.0 / 3, -2.5e-300, 1e300, double.MaxValue, double.Epsilon, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 123456789.125 },
        };
        for (int i = 0; i < 40; i++)
        {
            var customer = new Customer
            {
                Id = NewGuid(random),
                Name = $"Customer {i:D3} {Text(random, 8, 40)}",
                Email = $"c{i}@example.org",
                Billing = NewAddress(random, i),
                Shipping = i % 3 == 0 ? null : NewAddress(random, i + 100),
                Registered = new DateTime(2015, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(random.Next(0, 300_000_000)).AddMilliseconds(random.Next(0, 1000)),
                LoyaltyPoints = i % 4 == 0 ? null : random.Next(0, 100_000),
                Secret = random.Next(),
            };
            for (int t = 0, n = random.Next(0, 5); t < n; t++)
                customer.Tags.Add(Text(random, 3, 12));
            for (int a = 0, n = random.Next(0, 6); a < n; a++)
                customer.Attributes["attr" + random.Next(0, 50).ToString(CultureInfo.InvariantCulture) + (a % 2 == 0 ? "" : "-ü\"")] = Text(random, 0, 20);
            shop.Customers.Add(customer);
            shop.Balances[customer.Id] = random.Next(-100_000, 1_000_000) / 100m;
        }
        for (int i = 0; i < orders; i++)
        {
            var order = new Order
            {
                Number = 1_000_000_000_000L + i * 7919L,
                Id = NewGuid(random),
                Customer = shop.Customers[random.Next(shop.Customers.Count)], // shared: references matter to PreserveReferencesHandling
                Status = (OrderStatus)random.Next(0, 6),
                Created = new DateTime(2023, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(random.Next(0, 500_000)).AddMilliseconds(random.Next(0, 1000)),
                Handling = TimeSpan.FromSeconds(random.Next(0, 200_000)) + TimeSpan.FromTicks(random.Next(0, 10_000_000)),
                Priority = "ABC\"\\é"[random.Next(0, 6)],
                Paid = random.Next(2) == 1,
                Score = Math.Round(random.NextDouble() * 100, random.Next(0, 6)),
                Checksum = (ulong)random.NextInt64() * 2 + 1,
                Tracking = i % 5 == 0 ? null : new Uri($"https://track.example.org/p?id={i}&q=a%20b#frag"),
                Legacy = i % 7 == 0 ? null : "legacy " + i.ToString(CultureInfo.InvariantCulture),
            };
            if (order.Status is OrderStatus.Shipped or OrderStatus.Delivered)
            {
                var legs = Enumerable.Range(0, random.Next(1, 4)).Select(l => s_countries[random.Next(s_countries.Length)]).ToList();
                order.Shipment = new Shipment(s_carriers[random.Next(s_carriers.Length)],
                    new DateTimeOffset(2023, 6, 1, 12, 0, 0, TimeSpan.FromMinutes(random.Next(-12, 14) * 30)).AddMinutes(random.Next(0, 100_000)),
                    TimeSpan.FromHours(random.Next(1, 200)), legs, random.Next(3) == 0 ? null : random.NextInt64(1, long.MaxValue));
            }
            if (order.Status == OrderStatus.Delivered)
                order.Delivered = new DateTimeOffset(2023, 9, 1, 0, 0, 0, TimeSpan.FromHours(-5)).AddSeconds(random.Next(0, 10_000_000));
            for (int l = 0, n = random.Next(1, 9); l < n; l++)
            {
                order.Lines.Add(new OrderLine
                {
                    Sku = random.Next(10_000, 99_999),
                    Description = Text(random, 5, 120),
                    Quantity = random.Next(1, 12),
                    UnitPrice = new Money { Amount = random.Next(1, 5_000_000) / 100m, Currency = l % 3 == 0 ? "EUR" : "JPY" },
                    Weight = Math.Round(random.NextDouble() * 50, 3),
                    Discount = random.Next(3) == 0 ? random.Next(1, 1000) / 1000m : null,
                    Flags = (LineFlags)random.Next(0, 32),
                    Rating = random.Next(0, 50) / 10f,
                });
            }
            order.Totals["net"] = order.Lines.Sum(l => l.UnitPrice.Amount * l.Quantity);
            order.Totals["tax"] = Math.Round(order.Totals["net"] * 0.19m, 2);
            order.Totals["Ünit \"avg\""] = order.Totals["net"] / order.Lines.Count;
            for (int k = 0, n = random.Next(0, 4); k < n; k++)
                order.Notes[random.Next(-50, 50)] = Text(random, 0, 60);
            order.Ratings = Enumerable.Range(0, random.Next(0, 10)).Select(_ => random.Next(-5, 6)).ToArray();
            if (random.Next(4) == 0)
            {
                order.Attachment = new byte[random.Next(1, 200)];
                random.NextBytes(order.Attachment);
            }
            order.Extras = i % 2 == 0
                ? new object?[] { i, "two \"2\"", 3.5, true, null, new[] { 1, 2, i }, long.MinValue }
                : new object?[] { "odd", i * 1.25 };
            shop.Orders.Add(order);
            shop.ByStatus[order.Status] = shop.ByStatus.GetValueOrDefault(order.Status) + 1;
            string key = "k" + (i % 37).ToString("D2", CultureInfo.InvariantCulture);
            if (!shop.Index.TryGetValue(key, out var list))
                shop.Index[key] = list = new List<long>();
            list.Add(order.Number);
        }
        for (int i = 0; i < 20; i++)
            shop.Counters.Add(new KeyValuePair<string, int>("counter " + s_fragments[i % s_fragments.Length].Trim(), random.Next()));
        return shop;
    }

    private static Guid NewGuid(Random random)
    {
        var bytes = new byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes);
    }

    private static Address NewAddress(Random random, int i) => new()
    {
        Street = $"{random.Next(1, 300)} {Text(random, 4, 30)}",
        City = "City " + i.ToString(CultureInfo.InvariantCulture),
        PostalCode = i % 5 == 0 ? null : random.Next(1000, 99999).ToString("D5", CultureInfo.InvariantCulture),
        Country = s_countries[random.Next(s_countries.Length)],
        Location = i % 2 == 0 ? null : new GeoPoint { Latitude = Math.Round(random.NextDouble() * 180 - 90, 6), Longitude = Math.Round(random.NextDouble() * 360 - 180, 6) },
    };

    private static string Text(Random random, int min, int max)
    {
        int length = random.Next(min, max + 1);
        var sb = new StringBuilder();
        while (sb.Length < length)
            sb.Append(s_fragments[random.Next(s_fragments.Length)]);
        return sb.ToString();
    }

    /// <summary>A long string: the reader's and writer's per-character loops run long enough to be patched mid-loop.</summary>
    private static string LongText(int length)
    {
        var sb = new StringBuilder(length + 64);
        for (int i = 0; sb.Length < length; i++)
            sb.Append(s_fragments[i * 7 % s_fragments.Length]).Append(i.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    /// <summary>camelCase names, indented, enums as camelCase strings, ISO dates with a fixed format, nulls left out.</summary>
    private static JsonSerializerSettings CamelSettings() => new()
    {
        ContractResolver = new DefaultContractResolver { NamingStrategy = new CamelCaseNamingStrategy { ProcessDictionaryKeys = false } },
        Formatting = Formatting.Indented,
        TypeNameHandling = TypeNameHandling.None,
        NullValueHandling = NullValueHandling.Ignore,
        // Dates stay strings for the converter to parse: read as DateTime, a string with an offset would become local
        // time (the machine's zone); read as DateTimeOffset, a UTC DateTime would come back without its kind.
        DateParseHandling = DateParseHandling.None,
        DateTimeZoneHandling = DateTimeZoneHandling.RoundtripKind,
        FloatFormatHandling = FloatFormatHandling.String,
        Culture = CultureInfo.InvariantCulture,
        Converters =
        {
            new StringEnumConverter(new CamelCaseNamingStrategy()),
            new IsoDateTimeConverter { DateTimeFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.fffK", Culture = CultureInfo.InvariantCulture },
            new VersionConverter(),
        },
    };

    /// <summary>Default (PascalCase) names, compact, enums as numbers, shared objects written once ($id/$ref).</summary>
    private static JsonSerializerSettings ReferenceSettings() => new()
    {
        TypeNameHandling = TypeNameHandling.None,
        PreserveReferencesHandling = PreserveReferencesHandling.Objects,
        DateParseHandling = DateParseHandling.DateTimeOffset,
        DateTimeZoneHandling = DateTimeZoneHandling.RoundtripKind,
        FloatFormatHandling = FloatFormatHandling.Symbol,
        FloatParseHandling = FloatParseHandling.Double,
        StringEscapeHandling = StringEscapeHandling.EscapeNonAscii,
        DefaultValueHandling = DefaultValueHandling.Ignore,
        Culture = CultureInfo.InvariantCulture,
        Converters = { new GeoPointConverter(), new VersionConverter() },
    };

    /// <summary>JsonConvert and JsonSerializer round trips with several settings, PopulateObject, untyped and anonymous
    /// targets, and the XML converter.</summary>
    public static string Serializer(Shop shop)
    {
        var sb = new StringBuilder();
        var camel = CamelSettings();
        string json = JsonConvert.SerializeObject(shop, camel);
        var back = JsonConvert.DeserializeObject<Shop>(json, camel)!;
        string again = JsonConvert.SerializeObject(back, camel);
        sb.Append(json).Append("\n#camel round trip equal: ").Append(json == again)
            .Append(", callbacks ").Append(back.Orders.Sum(o => o.Callbacks)).Append('\n');

        // Through JsonSerializer with explicit reader and writer; the shared customers come back shared.
        var serializer = JsonSerializer.Create(ReferenceSettings());
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        using (var jsonWriter = new JsonTextWriter(writer) { Formatting = Formatting.None })
            serializer.Serialize(jsonWriter, shop);
        string compact = writer.ToString();
        Shop restored;
        using (var reader = new JsonTextReader(new StringReader(compact)))
            restored = serializer.Deserialize<Shop>(reader)!;
        var distinct = new HashSet<Customer>(restored.Orders.Select(o => o.Customer), ReferenceEqualityComparer.Instance);
        var writer2 = new StringWriter(CultureInfo.InvariantCulture);
        JsonSerializer.Create(ReferenceSettings()).Serialize(writer2, restored); // a fresh serializer: $id numbers carry on per instance
        sb.Append(compact).Append("\n#references: ").Append(distinct.Count).Append(" distinct customers, ")
            .Append(restored.Orders.Count(o => restored.Customers.Contains(o.Customer))).Append(" orders share the list's instances, round trip equal: ")
            .Append(compact == writer2.ToString()).Append('\n');

        // Indented PascalCase with HTML escaping, enums as numbers except where the property says otherwise.
        var html = new JsonSerializerSettings
        {
            Formatting = Formatting.Indented,
            StringEscapeHandling = StringEscapeHandling.EscapeHtml,
            DateParseHandling = DateParseHandling.None,
            Culture = CultureInfo.InvariantCulture,
            Converters = { new GeoPointConverter() },
        };
        foreach (var order in shop.Orders.Where(o => o.Number % 3 == 0).Take(60))
        {
            string one = JsonConvert.SerializeObject(order, html);
            sb.Append(one).Append('\n');
            var copy = JsonConvert.DeserializeObject<Order>(one, html)!;
            sb.Append(copy.Customer.Name).Append('|').Append(copy.Lines.Sum(l => l.UnitPrice.Amount).ToString(CultureInfo.InvariantCulture))
                .Append('|').Append(copy.Shipment?.Legs.Count ?? -1).Append('|').Append(copy.Callbacks).Append('\n');
        }

        // PopulateObject onto a fresh instance, replacing collections; then only the orders, as a typed list.
        var populated = new Shop();
        JsonConvert.PopulateObject(json, populated, new JsonSerializerSettings
        {
            ContractResolver = camel.ContractResolver,
            ObjectCreationHandling = ObjectCreationHandling.Replace,
            DateParseHandling = DateParseHandling.None,
            Culture = CultureInfo.InvariantCulture,
            Converters = camel.Converters,
        });
        sb.Append("#populated: ").Append(JsonConvert.SerializeObject(populated, camel) == json).Append('\n');
        var orders = JsonConvert.DeserializeObject<List<Order>>(JsonConvert.SerializeObject(shop.Orders.Take(25), camel), camel)!;
        sb.Append("#orders: ").Append(string.Join(",", orders.Select(o => o.Number.ToString(CultureInfo.InvariantCulture)))).Append('\n');

        // Untyped: dictionaries of object (JObject/JArray/primitive values), and an anonymous type.
        var untyped = JsonConvert.DeserializeObject<OrdinalMap<object>>(json, camel)!;
        foreach (var (key, value) in untyped)
            sb.Append(key).Append(" => ").Append(value?.GetType().Name ?? "null").Append(' ').Append(Describe(value is JToken t ? t.Type.ToString() : value)).Append('\n');
        var anonymous = JsonConvert.DeserializeAnonymousType(json, new { name = "", opened = default(DateTimeOffset), samples = Array.Empty<double>(), byStatus = new Dictionary<string, int>() }, camel)!;
        sb.Append(anonymous.name).Append('|').Append(Describe(anonymous.opened)).Append('|').Append(string.Join(",", anonymous.samples.Select(d => Describe(d))))
            .Append('|').Append(string.Join(",", anonymous.byStatus.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))).Append('\n');

        // Static helpers.
        foreach (object? value in new object?[] { "a\"b\u0007ü", 'x', 3.25m, 1.0 / 3, 2.5f, long.MaxValue, ulong.MaxValue, (sbyte)-5, true, null, Guid.Empty, new Uri("http://a/b?c=d"),
                     new DateTime(2020, 2, 29, 23, 59, 59, 999, DateTimeKind.Utc), new DateTimeOffset(2020, 2, 29, 1, 2, 3, TimeSpan.FromHours(-3.5)), TimeSpan.FromDays(1.5), OrderStatus.Shipped })
            sb.Append(value switch
            {
                null => JsonConvert.Null,
                string s => JsonConvert.ToString(s, '\'', StringEscapeHandling.EscapeNonAscii),
                char c => JsonConvert.ToString(c),
                decimal d => JsonConvert.ToString(d),
                double d => JsonConvert.ToString(d),
                float f => JsonConvert.ToString(f),
                long l => JsonConvert.ToString(l),
                ulong u => JsonConvert.ToString(u),
                sbyte s => JsonConvert.ToString(s),
                bool b => JsonConvert.ToString(b),
                Guid g => JsonConvert.ToString(g),
                Uri u => JsonConvert.ToString(u),
                DateTime d => JsonConvert.ToString(d, DateFormatHandling.MicrosoftDateFormat, DateTimeZoneHandling.Utc) + JsonConvert.ToString(d),
                DateTimeOffset d => JsonConvert.ToString(d, DateFormatHandling.MicrosoftDateFormat) + JsonConvert.ToString(d),
                TimeSpan s => JsonConvert.ToString(s),
                Enum e => JsonConvert.ToString(e),
                _ => "?",
            }).Append(' ');
        sb.Append('\n');

        // XML: one order to an XDocument and back (dates stay strings: no zone conversion; control characters, which
        // XML cannot carry, are dropped first).
        var xmlSerializer = JsonSerializer.Create(new JsonSerializerSettings
        {
            DateParseHandling = DateParseHandling.None,
            Culture = CultureInfo.InvariantCulture,
            Converters = { new XmlNodeConverter { DeserializeRootElementName = "order", WriteArrayAttribute = true, EncodeSpecialCharacters = true } },
        });
        foreach (var order in shop.Orders.Take(8))
        {
            var orderToken = JObject.FromObject(order, JsonSerializer.Create(camel));
            foreach (var value in orderToken.Descendants().OfType<JValue>().Where(v => v.Type == JTokenType.String).ToList())
                value.Value = new string(((string)value.Value!).Where(c => c >= ' ' || c is '\t' or '\n' or '\r').ToArray());
            string orderJson = orderToken.ToString(Formatting.None);
            XDocument xml;
            using (var reader = new JsonTextReader(new StringReader(orderJson)) { DateParseHandling = DateParseHandling.None })
                xml = xmlSerializer.Deserialize<XDocument>(reader)!;
            sb.Append(xml.ToString(SaveOptions.DisableFormatting)).Append('\n');
            sb.Append(JsonConvert.SerializeXNode(xml, Formatting.Indented, omitRootObject: true)).Append('\n');
        }
        return Digest(sb.ToString());
    }

    /// <summary>LINQ to JSON: FromObject/Parse, JSONPath queries, modifications, DeepClone/DeepEquals, Merge,
    /// conversions, JTokenReader/JTokenWriter, ToObject.</summary>
    public static string Linq(Shop shop)
    {
        var sb = new StringBuilder();
        var camel = CamelSettings();
        var serializer = JsonSerializer.Create(camel);
        var root = JObject.FromObject(shop, serializer);
        string text = root.ToString(Formatting.Indented);
        JObject parsed;
        using (var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.DateTimeOffset, FloatParseHandling = FloatParseHandling.Double })
            parsed = (JObject)JToken.ReadFrom(reader, new JsonLoadSettings { LineInfoHandling = LineInfoHandling.Load, DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Error });
        sb.Append("#deep equal after parse (dates are typed now): ").Append(JToken.DeepEquals(root, parsed)).Append('\n');
        JObject plain;
        using (var reader = new JsonTextReader(new StringReader(root.ToString(Formatting.None))) { DateParseHandling = DateParseHandling.None })
            plain = JObject.Load(reader, new JsonLoadSettings { CommentHandling = CommentHandling.Ignore });
        sb.Append("#deep equal with dates left as strings: ").Append(JToken.DeepEquals(root, plain)).Append('\n');

        string[] paths =
        {
            "$.name", "$.orders[0].customer.billing.city", "$.orders[-2:].number", "$.orders[10:40:3].customer.name",
            "$.orders[?(@.status == 'Shipped')].number", "$.orders[?(@.paid == true && @.score > 50)].id",
            "$..sku", "$.orders[*].lines[?(@.quantity >= 9)].description", "$.customers[?(@.loyaltyPoints)].email",
            "$.orders[?(@.customer.billing.country =~ /^D.*$/)].number", "$['index']['k01']", "$.orders[0]['totals'].*",
            "$.orders[*].ratings[?(@ < 0)]", "$.orders[*].shipment.legs[0]", "$..location", "$.balances.*", "$.orders[3,5,7].priority",
            "$.orders[?(@.extras[6] < 0)].extras[5]", "$.customers[0].attributes.*", "$..[?(@.currency == 'EUR')].amount",
        };
        foreach (var path in paths)
        {
            sb.Append("## ").Append(path).Append('\n');
            foreach (var token in parsed.SelectTokens(path))
                sb.Append(token.Path).Append(" = ").Append(token.ToString(Formatting.None)).Append(" @").Append(((IJsonLineInfo)token).LineNumber).Append('\n');
        }
        sb.Append(parsed.SelectToken("orders[0].lines[0].unitPrice.amount")?.ToString(Formatting.None)).Append('\n');
        try
        {
            parsed.SelectToken("$.orders[0].missing", errorWhenNoMatch: true);
        }
        catch (JsonException e)
        {
            sb.Append("#error: ").Append(e.GetType().Name).Append(": ").Append(e.Message).Append('\n');
        }

        // Decimals where the values allow it (not the samples: 1e300 is no decimal).
        JArray exact;
        using (var reader = new JsonTextReader(new StringReader(root["orders"]!.ToString())) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal })
            exact = JArray.Load(reader);
        sb.Append("#exact totals: ").Append(Describe(exact.Sum(o => (decimal)o["totals"]!["net"]!))).Append(' ')
            .Append(Describe(exact.SelectTokens("$..unitPrice.amount").Sum(t => t.Value<decimal>()))).Append(' ')
            .Append(exact.SelectTokens("$..discount").First().ToString(Formatting.None)).Append('\n');

        // Typed reads and explicit conversions.
        var orders = (JArray)parsed["orders"]!;
        foreach (var order in orders.Take(50))
        {
            sb.Append((long)order["number"]!).Append('|').Append((string?)order["customer"]!["name"]).Append('|')
                .Append((int?)order["customer"]!["loyaltyPoints"]).Append('|').Append(Describe((decimal)order.SelectToken("totals.net")!)).Append('|')
                .Append(Describe((DateTimeOffset)order["created"]!)).Append('|').Append(Describe((Guid)order["id"]!)).Append('|')
                .Append(Describe((TimeSpan)order["handling"]!)).Append('|').Append(order.Value<bool>("paid")).Append('|')
                .Append(Describe(order["attachment"] is { } a ? (byte[]?)a : null)).Append('|').Append((Uri?)order["tracking"]).Append('|')
                .Append(Describe(order["lines"]!.Values<int>("quantity").Sum())).Append('\n');
        }

        // Modify: computed properties, removals, renames, inserts, replacements, a sort.
        var clone = (JObject)parsed.DeepClone();
        sb.Append("#clone equal: ").Append(JToken.DeepEquals(clone, parsed)).Append('\n');
        int changes = 0;
        clone.PropertyChanged += (_, _) => changes++;
        foreach (JObject order in ((JArray)clone["orders"]!).Cast<JObject>())
        {
            var lines = (JArray)order["lines"]!;
            order["lineCount"] = lines.Count;
            order["gross"] = lines.Sum(l => (decimal)l["quantity"]! * (decimal)l["unitPrice"]!["amount"]!);
            order.Remove("attachment");
            if (order.Property("x-legacy") is { } legacy)
                legacy.Replace(new JProperty("legacy", legacy.Value));
            order["status"] = ((string)order["status"]!).ToUpperInvariant();
            lines.Insert(0, new JObject(new JProperty("sku", 0), new JProperty("description", "inserted \"first\""), new JProperty("tags", new JArray("a", 1, 2.5m, JValue.CreateNull(), true))));
            lines.Last!.AddAfterSelf(new JObject { ["sku"] = -1, ["end"] = new JValue(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero)) });
            order.Property("number")!.AddBeforeSelf(new JProperty("first", true));
        }
        clone["changed"] = changes;
        clone["name"] = clone["name"] + " (modified)";
        clone["orders"] = new JArray(((JArray)clone["orders"]!).OrderByDescending(o => (decimal)o["gross"]!).ThenBy(o => (long)o["number"]!));
        clone["byStatus"]!["Cancelled"] = 12345;
        sb.Append("#clone equal after changes: ").Append(JToken.DeepEquals(clone, parsed)).Append(", changes ").Append(changes).Append('\n');
        sb.Append(clone.ToString(Formatting.Indented, new StringEnumConverter())).Append('\n');

        // Merge two documents with each array strategy.
        foreach (var handling in new[] { MergeArrayHandling.Concat, MergeArrayHandling.Union, MergeArrayHandling.Replace, MergeArrayHandling.Merge })
        {
            var target = (JObject)parsed["orders"]![0]!.DeepClone();
            target.Merge(parsed["orders"]![1], new JsonMergeSettings { MergeArrayHandling = handling, MergeNullValueHandling = MergeNullValueHandling.Merge, PropertyNameComparison = StringComparison.OrdinalIgnoreCase });
            sb.Append("## merge ").Append(handling).Append('\n').Append(target.ToString(Formatting.None)).Append('\n');
        }

        // Functional construction and statistics over descendants.
        var summary = new JObject(
            new JProperty("customers", new JArray(parsed["customers"]!.Select(c => new JObject(new JProperty("id", c["id"]), new JProperty("orders", orders.Count(o => JToken.DeepEquals(o["customer"]!["id"], c["id"]))))))),
            new JProperty("types", new JObject(parsed.Descendants().GroupBy(d => d.Type).OrderBy(g => g.Key).Select(g => new JProperty(g.Key.ToString(), g.Count())))),
            new JProperty("maxDepth", parsed.Descendants().Max(d => d.Ancestors().Count())),
            new JProperty("strings", parsed.Descendants().OfType<JValue>().Where(v => v.Type == JTokenType.String).Sum(v => ((string)v!).Length)));
        sb.Append(summary.ToString(Formatting.Indented)).Append('\n');
        sb.Append("#reparsed summary equal: ").Append(JToken.DeepEquals(summary, JObject.Parse(summary.ToString()))).Append(' ')
            .Append(JArray.Parse("[1, 2.5, \"x\", null, {\"y\": [true]}]").ToString(Formatting.None)).Append('\n');
        var values = parsed.Descendants().OfType<JValue>().Where(v => v.Type is JTokenType.Integer or JTokenType.Float).Take(2000).ToList();
        // A stable sort: 5 and 5.0 compare equal but print differently.
        sb.Append(string.Join(",", values.OrderBy(v => v, Comparer<JValue>.Create((x, y) => x.CompareTo(y))).Select(v => v.ToString(CultureInfo.InvariantCulture)))).Append('\n');

        // Reading a token tree as a stream, and writing one through JTokenWriter.
        int tokens = 0;
        using (var reader = new JTokenReader(clone))
            while (reader.Read())
            {
                tokens++;
                if (reader.TokenType is JsonToken.PropertyName && tokens % 97 == 0)
                    sb.Append(reader.Path).Append(';');
            }
        sb.Append("\n#tokens ").Append(tokens).Append('\n');
        using (var writer = new JTokenWriter())
        {
            serializer.Serialize(writer, shop.Orders.Take(10));
            var written = (JArray)writer.Token!;
            sb.Append("#JTokenWriter equals FromObject: ").Append(JToken.DeepEquals(written, new JArray(root["orders"]!.Take(10)))).Append('\n');
        }

        // Back to objects.
        var typed = root.ToObject<Shop>(serializer)!;
        var fromClone = clone.ToObject<Shop>(serializer)!;
        sb.Append("#ToObject round trip: ").Append(JToken.FromObject(typed, serializer).ToString() == root.ToString())
            .Append(", extension data ").Append(fromClone.Orders.Sum(o => o.Extension?.Count ?? 0))
            .Append(", first extension ").Append(fromClone.Orders[0].Extension is { } ext ? string.Join(";", ext.Select(p => p.Key + "=" + p.Value.ToString(Formatting.None))) : "none").Append('\n');
        return Digest(sb.ToString());
    }

    /// <summary>JsonTextWriter and JsonTextReader token streaming: every value kind written by hand with unusual
    /// formatting, the serialized shop read token by token with several parse settings, ReadAs*, Skip, lenient input
    /// and the messages of malformed input.</summary>
    public static string Streaming(Shop shop)
    {
        var sb = new StringBuilder();
        var output = new StringWriter(CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(output)
        {
            Formatting = Formatting.Indented, Indentation = 3, IndentChar = ' ', QuoteChar = '\'', StringEscapeHandling = StringEscapeHandling.EscapeHtml,
            FloatFormatHandling = FloatFormatHandling.Symbol, DateFormatHandling = DateFormatHandling.IsoDateFormat, Culture = CultureInfo.InvariantCulture,
        })
        {
            w.WriteStartObject();
            w.WriteComment(" generated by the differential lane ");
            foreach (var order in shop.Orders)
            {
                w.WritePropertyName("order-" + order.Number.ToString(CultureInfo.InvariantCulture), escape: true);
                w.WriteStartArray();
                w.WriteValue(order.Number);
                w.WriteValue(order.Id);
                w.WriteValue(order.Created);
                w.WriteValue(order.Delivered);
                w.WriteValue(order.Handling);
                w.WriteValue(order.Score);
                w.WriteValue((float)order.Score);
                w.WriteValue(order.Totals["net"]);
                w.WriteValue(order.Checksum);
                w.WriteValue(order.Priority);
                w.WriteValue(order.Paid);
                w.WriteValue(order.Attachment);
                w.WriteValue(order.Tracking);
                w.WriteValue(order.Customer.LoyaltyPoints);
                w.WriteValue((byte)order.Lines.Count);
                w.WriteValue((short)-order.Lines.Count);
                w.WriteValue(order.Lines[0].Description);
                w.WriteStartObject();
                foreach (var line in order.Lines)
                {
                    w.WritePropertyName(line.Sku.ToString(CultureInfo.InvariantCulture));
                    w.WriteValue(line.Weight);
                }
                w.WriteEndObject();
                if (order.Number % 5 == 0)
                {
                    w.WriteStartConstructor("Date");
                    w.WriteValue(order.Created.Ticks);
                    w.WriteEndConstructor();
                    w.WriteUndefined();
                    w.WriteRawValue("{\"raw\":[1,2,3]}");
                }
                w.WriteNull();
                w.WriteEndArray();
            }
            w.WritePropertyName("samples");
            w.WriteStartArray();
            foreach (var d in shop.Samples)
                w.WriteValue(d);
            w.WriteEndArray();
            w.WritePropertyName("long");
            w.WriteValue(shop.LongText);
            w.WriteEnd();
        }
        string written = output.ToString();
        sb.Append(written).Append('\n');
        sb.Append("#written tokens ").Append(ReadAll(written, sb, DateParseHandling.DateTimeOffset, FloatParseHandling.Double, verbose: false)).Append('\n');

        // The serialized shop read token by token, dates as DateTimeOffset (never DateTime: zone-dependent).
        // The orders alone with decimals (the shop's samples hold doubles no decimal can).
        string json = JsonConvert.SerializeObject(shop, CamelSettings());
        sb.Append("#shop tokens ").Append(ReadAll(json, sb, DateParseHandling.DateTimeOffset, FloatParseHandling.Double, verbose: true)).Append('\n');
        json = JsonConvert.SerializeObject(shop.Orders, CamelSettings());
        sb.Append("#order tokens ").Append(ReadAll(json, sb, DateParseHandling.None, FloatParseHandling.Decimal, verbose: true)).Append('\n');

        // ReadAs*: typed reads that convert strings and numbers.
        const string typedInput = "[1, \"2\", 3.5, \"2024-02-29T12:00:00+01:00\", \"AQIDBA==\", null, true, \"4.25\", 1e3, \"text\", [1,2], {\"a\":{\"b\":[1,{\"c\":2}]}}, 7]";
        using (var reader = new JsonTextReader(new StringReader(typedInput)) { DateParseHandling = DateParseHandling.None })
        {
            reader.Read();
            sb.Append(Describe(reader.ReadAsInt32())).Append(' ').Append(Describe(reader.ReadAsInt32())).Append(' ').Append(Describe(reader.ReadAsDecimal()))
                .Append(' ').Append(Describe(reader.ReadAsDateTimeOffset())).Append(' ').Append(Describe(reader.ReadAsBytes())).Append(' ')
                .Append(Describe(reader.ReadAsString())).Append(' ').Append(Describe(reader.ReadAsBoolean())).Append(' ').Append(Describe(reader.ReadAsDouble()))
                .Append(' ').Append(Describe(reader.ReadAsDecimal())).Append(' ').Append(Describe(reader.ReadAsString())).Append(' ');
            reader.Read();
            reader.Skip();
            reader.Read();
            reader.Skip();
            sb.Append(Describe(reader.ReadAsInt32())).Append(' ').Append(reader.Path).Append('\n');
        }

        // Lenient input: comments, single quotes, unquoted names, constructors, NaN/Infinity, hex and octal numbers,
        // several documents in one stream.
        const string lenient = "/* c */ {unquoted: 'single \\'q\\'', \"n\": NaN, i: -Infinity, hex: 0x1F, oct: 017, d: new Date(1234), u: undefined, // line\n e: [] }\n[1,2] 'three' {\"a\":1}";
        using (var reader = new JsonTextReader(new StringReader(lenient)) { SupportMultipleContent = true, DateParseHandling = DateParseHandling.None })
            while (reader.Read())
                sb.Append(reader.TokenType).Append('=').Append(Describe(reader.Value)).Append('@').Append(reader.LineNumber).Append(':').Append(reader.LinePosition).Append(' ');
        sb.Append('\n');

        // Malformed input: the exception messages carry paths and positions.
        foreach (var bad in new[] { "{\"a\":1,}x", "[1,2", "{\"a\" 1}", "\"unterminated", "{\"a\":tru}", "[1.2.3]", "{\"a\":\"\\uZZZZ\"}", "{\"a\":[}]}", "123abc", "{\"d\":{\"e\":\"2024-13-45T00:00:00Z\"}}" })
        {
            try
            {
                using var reader = new JsonTextReader(new StringReader(bad)) { DateParseHandling = DateParseHandling.DateTimeOffset };
                while (reader.Read())
                {
                }
                JToken.Parse(bad);
                sb.Append("ok ");
            }
            catch (JsonReaderException e)
            {
                sb.Append(e.Message).Append(" [").Append(e.Path).Append(' ').Append(e.LineNumber).Append(':').Append(e.LinePosition).Append("] ");
            }
        }
        try
        {
            using var w = new JsonTextWriter(new StringWriter(CultureInfo.InvariantCulture));
            w.WriteStartArray();
            w.WriteEndObject();
        }
        catch (JsonWriterException e)
        {
            sb.Append(e.Message).Append(" [").Append(e.Path).Append(']');
        }
        return Digest(sb.ToString());
    }

    /// <summary>Reads every token of <paramref name="json"/>; appends each (or, unless verbose, each 50th) token's kind, value and position.</summary>
    private static int ReadAll(string json, StringBuilder sb, DateParseHandling dates, FloatParseHandling floats, bool verbose)
    {
        int count = 0;
        using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = dates, FloatParseHandling = floats, Culture = CultureInfo.InvariantCulture, MaxDepth = 64 };
        while (reader.Read())
        {
            if (verbose || count % 50 == 0)
                sb.Append(reader.TokenType).Append(' ').Append(reader.ValueType?.Name).Append(' ').Append(Describe(reader.Value)).Append(' ')
                    .Append(reader.Path).Append(' ').Append(reader.Depth).Append(' ').Append(reader.LineNumber).Append(':').Append(reader.LinePosition).Append('\n');
            count++;
        }
        return count;
    }

    /// <summary>A culture-invariant, kind-preserving rendering of a value (ToString of a DateTime or a double would use
    /// the current culture).</summary>
    private static string Describe(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        DateTime d => "dt:" + d.ToString("O", CultureInfo.InvariantCulture) + "/" + d.Kind,
        DateTimeOffset d => "dto:" + d.ToString("O", CultureInfo.InvariantCulture),
        double d => "f8:" + d.ToString("R", CultureInfo.InvariantCulture),
        float f => "f4:" + f.ToString("R", CultureInfo.InvariantCulture),
        byte[] b => "b:" + Convert.ToHexString(b),
        IFormattable f => value.GetType().Name + ":" + f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.GetType().Name + ":" + value,
    };

    private static string Digest(string s) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}
