using System;
using System.Collections.Generic;
using System.Threading;
using Hybrid.Os;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.Tests;

/// <summary>
/// Fakes plugged into the engine's platform seams (<see cref="Platform.Substitute"/>), so tests observe and steer the
/// engine through the seams rather than through counters and switches in production code: an OS that refuses to make
/// code writable (W^X), and a CPU and fence that count the program code they write. Shared by the engine suite and the
/// arm64 Mono lane.
/// </summary>
internal static class FakeOs
{
    /// <summary>
    /// The OS refuses to make existing code writable, as a W^X policy that differs per mapping does: the engine's trial
    /// page and stub pages (fresh memory it allocated) may still change protection, the program's code may not; entry
    /// writes behind the thread fence are refused too. Native patching looks available, and is refused at the write.
    /// </summary>
    public static IDisposable RefusingCodeWrites() =>
        Platform.Substitute(fence: new RefusingFence(), memory: new RefusingMemory(Platform.Memory, refuseOwnPages: false));

    /// <summary>The OS refuses every writable+executable mapping, the engine's own included: native patching is unavailable.</summary>
    public static IDisposable RefusingNativePatching() =>
        Platform.Substitute(fence: new RefusingFence(), memory: new RefusingMemory(Platform.Memory, refuseOwnPages: true));

    /// <summary>Counts the writes to the program's code (entry patches and restores) until disposed.</summary>
    public static CodeWriteCounter CountingCodeWrites() => new();

    public sealed class CodeWriteCounter : IDisposable
    {
        private readonly IDisposable _restore;
        private int _writes;

        public CodeWriteCounter()
        {
            _restore = Platform.Substitute(cpu: new CountingCpu(Platform.Cpu, this), fence: new CountingFence(Platform.Fence, this));
        }

        /// <summary>Program code written since this counter was made.</summary>
        public int Writes => Volatile.Read(ref _writes);

        internal void Count() => Interlocked.Increment(ref _writes);

        public void Dispose() => _restore.Dispose();
    }

    private sealed class RefusingMemory : PlatformMemory
    {
        private const int EAccess = 13;
        private readonly PlatformMemory _real;
        private readonly bool _refuseOwnPages;
        private readonly List<(nint Start, nint Size)> _own = new();

        public RefusingMemory(PlatformMemory real, bool refuseOwnPages)
        {
            _real = real;
            _refuseOwnPages = refuseOwnPages;
            PageSize = real.PageSize;
        }

        public override nint AllocateNear(nint near, nint size, long maxDistance)
        {
            nint at = _real.AllocateNear(near, size, maxDistance);
            if (at != 0)
                lock (_own)
                    _own.Add((at, size));
            return at;
        }

        public override nint Allocate(nint size)
        {
            nint at = _real.Allocate(size);
            if (at != 0)
                lock (_own)
                    _own.Add((at, size));
            return at;
        }

        public override void Free(nint address, nint size) => _real.Free(address, size);

        public override bool TryProtect(nint address, nint size, PageAccess access, out int error)
        {
            if ((access & PageAccess.Write) != 0 && (_refuseOwnPages || !IsOwn(address)))
            {
                error = EAccess;
                return false;
            }
            return _real.TryProtect(address, size, access, out error);
        }

        public override bool TryRead(nint address, Span<byte> buffer) => _real.TryRead(address, buffer);

        // Under W^X the program's code is never writable: a page the runtime keeps rwx (DOTNET_EnableWriteXorExecute=0)
        // reads as r-x here, so the engine must ask to make it writable — and is refused.
        public override PageAccess Query(nint address) => IsOwn(address) ? _real.Query(address) : _real.Query(address) & ~PageAccess.Write;

        private bool IsOwn(nint address)
        {
            lock (_own)
                foreach (var (start, size) in _own)
                    if (address >= start && address < start + size)
                        return true;
            return false;
        }
    }

    private sealed class RefusingFence : IThreadFence
    {
        public string? UnavailableReason => null;

        public bool NeedsFence(int interiorBoundaries) => interiorBoundaries > 0;

        public bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error)
        {
            error = 13;
            return false;
        }

        public void RemoveFixups((nint From, nint To)[] fixups)
        {
        }

        public FenceCounts Counts => default;
    }

    private sealed class CountingFence : IThreadFence
    {
        private readonly IThreadFence _real;
        private readonly CodeWriteCounter _counter;

        public CountingFence(IThreadFence real, CodeWriteCounter counter) => (_real, _counter) = (real, counter);

        public string? UnavailableReason => _real.UnavailableReason;

        public bool NeedsFence(int interiorBoundaries) => _real.NeedsFence(interiorBoundaries);

        public bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error)
        {
            bool written = _real.TryWrite(address, bytes, fixups, original, out error);
            if (written)
                _counter.Count();
            return written;
        }

        public void RemoveFixups((nint From, nint To)[] fixups) => _real.RemoveFixups(fixups);

        public FenceCounts Counts => _real.Counts;
    }

    private sealed class CountingCpu : ICpuHooks
    {
        private readonly ICpuHooks _real;
        private readonly CodeWriteCounter _counter;

        public CountingCpu(ICpuHooks real, CodeWriteCounter counter) => (_real, _counter) = (real, counter);

        public string? Refusal(nint body) => _real.Refusal(body);
        public long StubReach => _real.StubReach;
        public string StubReachText => _real.StubReachText;
        public int HiddenArgumentIndex(MethodTarget target) => _real.HiddenArgumentIndex(target);
        public HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter) => _real.Build(target, body, slot, filter);
        public void FillWithTraps(Span<byte> code) => _real.FillWithTraps(code);
        public void FlushNewCode(nint address, int length) => _real.FlushNewCode(address, length);

        public void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
        {
            _real.Store(address, bytes, entryWordLast);
            _counter.Count();
        }
    }
}
