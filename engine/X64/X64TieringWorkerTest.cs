using Iced.Intel;

#if NET
namespace Hybrid.X64;

/// <summary>
/// "Is this thread CoreCLR's tiering worker?", asked in x64 machine code inside the JIT filter (an OS × x64 cell: the
/// worker's name is read the way each OS keeps it). Every tier-up (tier-0 or ReadyToRun code replaced by tier-1, or
/// by instrumented code) is compiled on that thread (<c>TieredCompilationManager::BackgroundWorkerStart</c>); the
/// other compilations of a held method are on-stack-replacement variants, compiled synchronously by the thread that
/// runs a long loop of the original (<c>JIT_Patchpoint</c>). Those must go through: the runtime throws
/// InvalidProgramException into that thread when its OSR compile fails, and an OSR variant never becomes the method's
/// entry, so it cannot bypass a redirect.
/// </summary>
internal interface IX64TieringWorkerTest
{
    /// <summary>Emits a jump to <paramref name="notWorker"/> unless this thread is the worker; every argument register is kept.</summary>
    void EmitJumpUnlessWorker(Assembler asm, Label notWorker);
}
#endif
