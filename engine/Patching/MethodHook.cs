using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Hybrid.Compat;
using Hybrid.CoreClr;
using Hybrid.Os;

namespace Hybrid.Patching;

/// <summary>
/// The jump in one compiled body and the redirects that share it. The body is rewritten only when the first redirect
/// arrives and when the last one leaves; in between, switching between redirects is a single aligned store into the
/// data cell (or the instantiation table for shared generic code) that the dispatch stub reads.
/// </summary>
internal sealed unsafe class MethodHook : RedirectSite
{
    private readonly List<Redirection> _live = new();

    public MethodHook(nint body, nint freezeKey, byte[] originalBytes, byte[] entryPatch, nint codePage, nint dataPage, int dataSize, nint trampoline, bool filtered, (nint From, nint To)[] interiorFixups)
    {
        DataSize = dataSize;
        Body = body;
        FreezeKey = freezeKey;
        OriginalBytes = originalBytes;
        EntryPatch = entryPatch;
        CodePage = codePage;
        DataPage = dataPage;
        Trampoline = trampoline;
        Filtered = filtered;
        InteriorFixups = interiorFixups;
    }

    public (nint From, nint To)[] InteriorFixups { get; }

    public nint Body { get; }
    public nint FreezeKey { get; }
    public byte[] OriginalBytes { get; }
    public byte[] EntryPatch { get; }
    public nint CodePage { get; }
    public nint DataPage { get; }
    public int DataSize { get; }
    public nint Trampoline { get; }
    public bool Filtered { get; }
    public bool Installed { get; private set; }
    public int LiveCount => _live.Count;

    public override TDelegate CreateOriginal<TDelegate>(Targets.MethodTarget target) => Targets.OriginalInvoker.ForCode<TDelegate>(target, Trampoline);

    /// <summary>Caller holds the engine lock.</summary>
    public override void Add(Redirection redirection)
    {
        _live.Add(redirection);
        try
        {
            Refresh();
        }
        catch
        {
            _live.Remove(redirection);
            throw;
        }
    }

    /// <summary>Caller holds the engine lock.</summary>
    public override void Remove(Redirection redirection)
    {
        if (_live.Remove(redirection))
            Refresh();
    }

    private void Refresh()
    {
        if (_live.Count == 0)
        {
            if (Installed)
            {
                // The body goes back first: threads entering from now on run the original. Threads already past
                // the jump are in the stub, whose cell still holds a valid target.
                CodeMemory.Restore(Body, OriginalBytes);
                Platform.Fence.RemoveFixups(InteriorFixups);
                Installed = false;
                TieringFreeze.Release(FreezeKey);
            }
            if (Filtered)
                ClearTable();
            return;
        }

        if (Filtered)
            WriteTable();
        else
            Host.VolatileWrite(ref *(nint*)(DataPage + HookDataLayout.CellOffset), _live[_live.Count - 1].NativeTarget);

        if (!Installed)
        {
            TieringFreeze.Hold(FreezeKey);
            try
            {
                CodeMemory.WriteWithThreadsParked(Body, EntryPatch, InteriorFixups);
            }
            catch
            {
                TieringFreeze.Release(FreezeKey);
                throw;
            }
            Installed = true;
        }
    }

    /// <summary>
    /// (key, target) pairs, ended by key 0. A target is stored before its key, and a removed key becomes 1 (no
    /// MethodDesc or MethodTable lives at address 1), so a stub reading concurrently never sees a half-written pair.
    /// </summary>
    private void WriteTable()
    {
        var wanted = new Dictionary<nint, nint>();
        foreach (var r in _live)
            wanted[r.ContextKey] = r.NativeTarget; // later (newer) redirects overwrite older ones
        var entries = (nint*)(DataPage + HookDataLayout.TableOffset);
        int capacity = (DataSize - HookDataLayout.TableOffset) / 16 - 1;
        var placed = new HashSet<nint>();
        for (int i = 0; i < capacity && entries[2 * i] != 0; i++)
        {
            nint key = entries[2 * i];
            if (wanted.TryGetValue(key, out var target))
            {
                Host.VolatileWrite(ref entries[2 * i + 1], target);
                placed.Add(key);
            }
            else if (key != 1)
            {
                Host.VolatileWrite(ref entries[2 * i], 1);
            }
        }
        foreach (var pair in wanted)
        {
            var (key, target) = (pair.Key, pair.Value);
            if (placed.Contains(key))
                continue;
            int slot = 0;
            while (slot < capacity && entries[2 * slot] != 0 && entries[2 * slot] != 1)
                slot++;
            if (slot >= capacity)
                throw new NotSupportedException($"More than {capacity} instantiations of one shared generic method are redirected at once.");
            Host.VolatileWrite(ref entries[2 * slot + 1], target);
            Host.VolatileWrite(ref entries[2 * slot], key);
        }
    }

    private void ClearTable()
    {
        var entries = (nint*)(DataPage + HookDataLayout.TableOffset);
        for (int i = 0; entries[2 * i] != 0; i++)
            Host.VolatileWrite(ref entries[2 * i], 1);
    }

    public IEnumerable<Redirection> Live => _live.ToArray();
}
