namespace Shop;

/// <summary>Library code that tests want to control: a static price lookup and a cart that uses it.</summary>
public static class PriceList
{
    public static decimal PriceOf(string sku) => sku.Length * 1.5m;
}

public class Cart
{
    public decimal Total(params string[] skus)
    {
        decimal total = 0;
        foreach (var sku in skus)
            total += PriceList.PriceOf(sku);
        return total;
    }

    public int Count(params string[] skus) => skus.Length;
}
