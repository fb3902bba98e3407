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

    /// <summary>Returns false when a MethodDesc did not look as expected (nothing is written then).</summary>
    public static bool Apply(MethodTarget target)
    {
        bool ok = Set(target.Method.MethodHandle.Value);
        var owner = target.CodeOwner;
        if (!ReferenceEquals(owner, target.Method))
            ok &= Set(owner.MethodHandle.Value);
        return ok;
    }

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
                return true;
            int updated = old | (NotInline << 16);
            if (Interlocked.CompareExchange(ref *word, updated, old) == old)
                return true;
        }
    }
}
