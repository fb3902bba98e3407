using System;
using System.Runtime.CompilerServices;

namespace Hybrid.LateFixtures;

/// <summary>Code that reads a framework property through a woven call site, in an assembly nothing loads early.</summary>
public static class Machine
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Cores() => Environment.ProcessorCount;
}
