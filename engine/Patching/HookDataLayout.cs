namespace Hybrid.Patching;

/// <summary>Layout of the read-write data page that sits next to each dispatch stub.</summary>
internal static class HookDataLayout
{
    public const int CellOffset = 0;
    public const int TableOffset = 64;
}
