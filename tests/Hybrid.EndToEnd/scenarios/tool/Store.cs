namespace Shop;

public static class Store
{
    public static bool IsOpen(System.DateTime at) => at.Hour is >= 9 and < 17;

    public static string[] Lines(string path) => System.IO.File.ReadAllLines(path);
}
