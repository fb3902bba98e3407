using System;

namespace Shop;

/// <summary>Library code that reads the clock: its call of DateTime.UtcNow is guarded by the Fody add-in.</summary>
public static class Receipt
{
    public static string Stamp() => "issued " + DateTime.UtcNow.ToString("yyyy-MM-dd");
}
