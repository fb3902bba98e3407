using System.Reflection;
using System.Threading;
using Hybrid.Targets;

namespace Hybrid.CoreClr;

/// <summary>
/// Keeps callers compiled after a redirect from inlining the original's IL (which would bypass the jump).
/// <para>
/// The JIT asks the runtime whether a callee may be inlined, and the runtime says no when the callee's MethodDesc has
/// <c>mdcNotInline</c> (0x2000) in <c>m_wFlags</c>, the 16-bit word at offset 6 (after <c>m_wFlags3AndTokenRemainder</c>,
/// <c>m_chunkIndex</c>, <c>m_bFlags</c>, <c>m_wSlotNumber</c>) — unchanged from .NET Core 2.1 to .NET 10 (method.hpp).
/// The low 3 bits of the same word are the method's classification; we only touch MethodDescs whose classification is
/// IL (0) or instantiated (5), the only kinds a redirect target can have, as a check that the layout is the one we
/// know. The flag stays set after the last redirect is disposed: clearing it could undo a decision the runtime made
/// itself, and a method that was redirected once may well be redirected again.
/// </para>
/// <para>Callers compiled *before* the redirect keep whatever they inlined; only weaving rules that out.</para>
/// </summary>
internal static unsafe class InliningBlock
{
    private const ushort NotInline = 0x2000;

    /// <summary>
    /// Marks the method (and the MethodDesc its shared code is compiled under) not inlinable. Returns the MethodDescs
    /// this call changed, so that a redirect that fails afterwards can put them back (<see cref="Undo"/>).
    /// </summary>
    public static nint[] Apply(MethodTarget target, nint compiledAs = 0)
    {
        var changed = new System.Collections.Generic.List<nint>(3);
        foreach (var methodDesc in new nint[] { target.Method.MethodHandle.Value, target.CodeOwner.MethodHandle.Value, compiledAs })
            if (methodDesc != 0 && !changed.Contains(methodDesc) && Set(methodDesc))
                changed.Add(methodDesc);
        return changed.ToArray();
    }

    /// <summary>Clears the flag on MethodDescs that <see cref="Apply"/> set (and reported as changed).</summary>
    public static void Undo(nint[] changed)
    {
        foreach (var methodDesc in changed)
        {
            var word = (int*)(methodDesc + 4);
            int old;
            do
                old = Volatile.Read(ref *word);
            while (Interlocked.CompareExchange(ref *word, old & ~(NotInline << 16), old) != old);
        }
    }

    /// <summary>True when this call set the flag; false when it was set already or the MethodDesc did not look as expected (nothing written).</summary>
    private static bool Set(nint methodDesc)
    {
        var word = (int*)(methodDesc + 4); // m_wSlotNumber (low half) and m_wFlags (high half), 4-byte aligned
        while (true)
        {
            int old = Volatile.Read(ref *word);
            ushort flags = (ushort)(old >> 16);
            int classification = flags & 7;
            if (classification is not (0 or 5))
                return false;
            if ((flags & NotInline) != 0)
                return false;
            int updated = old | (NotInline << 16);
            if (Interlocked.CompareExchange(ref *word, updated, old) == old)
                return true;
        }
    }
}
