using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;
using Hybrid.Tests.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>One instruction as GNU objdump prints it (Intel syntax), with the address it names: a branch target, or for
/// a rip-relative operand the absolute address objdump computes in its comment.</summary>
internal sealed record X64ObjdumpLine(ulong Address, string Mnemonic, string Operands, ulong? Target, string Text);

/// <summary>
/// x64 machine code read by binutils' objdump (one line per instruction: --insn-width=16, or a long instruction's
/// bytes wrap onto a line of their own): the engine encodes with Iced, so its output is checked by a disassembler
/// of another project. Linux lanes only (objdump is not on the Windows lane; there the Iced checks stand alone); when
/// CI=true a missing objdump fails, as for the arm64 tools.
/// </summary>
internal static class X64Objdump
{
    private static readonly Regex Line = new(@"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(\S+)(?:\s+(.*?))?\s*$", RegexOptions.Compiled);
    private static readonly Regex Comment = new(@"#\s*(0x[0-9a-f]+)", RegexOptions.Compiled);

    /// <summary>The instructions in <paramref name="bytes"/> at <paramref name="vma"/>; null off Linux (no objdump there).</summary>
    public static List<X64ObjdumpLine>? Disassemble(byte[] bytes, ulong vma)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        string tool = Arm64Tools.Require("objdump");
        string file = Arm64Tools.TempFile(".bin");
        File.WriteAllBytes(file, bytes);
        try
        {
            var (code, stdout, stderr) = Arm64Tools.Run(tool, new[] { "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", "--insn-width=16", $"--adjust-vma=0x{vma:x}", file });
            Assert.That(code, Is.EqualTo(0), stderr);
            var lines = new List<X64ObjdumpLine>();
            foreach (var raw in stdout.Split('\n'))
            {
                var m = Line.Match(raw);
                if (!m.Success)
                    continue;
                string operands = m.Groups[3].Value;
                ulong? target = null;
                var comment = Comment.Match(operands);
                if (comment.Success)
                {
                    target = Hex(comment.Groups[1].Value);
                    operands = operands.Substring(0, comment.Index).Trim();
                }
                else if (operands.StartsWith("0x", StringComparison.Ordinal))
                {
                    target = Hex(operands.Split(' ')[0]);
                }
                lines.Add(new X64ObjdumpLine(Hex(m.Groups[1].Value), m.Groups[2].Value, operands, target, raw.Trim()));
            }
            return lines;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static ulong Hex(string text) =>
        ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text.Substring(2) : text, NumberStyles.HexNumber);
}
