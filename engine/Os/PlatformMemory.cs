using System;

namespace Hybrid.Os;

/// <summary>Page protections the engine asks for; each OS layer maps them to its own flags.</summary>
[Flags]
internal enum PageAccess
{
    None = 0,
    Read = 1,
    Write = 2,
    Execute = 4,
    ReadWrite = Read | Write,
    ReadExecute = Read | Execute,
    ReadWriteExecute = Read | Write | Execute,
}

/// <summary>
/// The operating-system seam: allocation near an address (so 32-bit displacements reach), protection changes and
/// protection queries. One implementation per OS family (chosen by <see cref="Platform.Memory"/>); nothing above this layer
/// calls the OS directly.
/// </summary>
internal abstract class PlatformMemory
{
    public int PageSize { get; protected init; } = Environment.SystemPageSize;

    /// <summary>Reserves and commits <paramref name="size"/> bytes (read+write) within ±<paramref name="maxDistance"/> of <paramref name="near"/>, or returns 0.</summary>
    public abstract nint AllocateNear(nint near, nint size, long maxDistance);

    /// <summary>Reserves and commits <paramref name="size"/> bytes (read+write) anywhere, or returns 0.</summary>
    public abstract nint Allocate(nint size);

    /// <summary>Gives back memory from <see cref="AllocateNear"/> or <see cref="Allocate"/> that no code can be running in (never used yet).</summary>
    public abstract void Free(nint address, nint size);

    /// <summary>Changes the protection of whole pages; returns false (and sets <paramref name="error"/>) when the OS refuses.</summary>
    public abstract bool TryProtect(nint address, nint size, PageAccess access, out int error);

    /// <summary>
    /// Copies <paramref name="buffer"/>.Length bytes from <paramref name="address"/> when all of them are readable;
    /// false (nothing copied) when any is not. One system call, no protection query: stub walks read a few words at
    /// a time, and parsing /proc/self/maps for each took ~200 ms a read under qemu.
    /// </summary>
    public abstract bool TryRead(nint address, Span<byte> buffer);

    /// <summary>The current protection of the page holding <paramref name="address"/>.</summary>
    public abstract PageAccess Query(nint address);

    public nint PageStart(nint address) => address & ~(nint)(PageSize - 1);
}
