using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Mono.Cecil;
using Mono.Cecil.Cil;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

/// <summary>
/// docs/weaver.md ("What a woven method looks like") shows <c>Statics.Add</c> before and after weaving. The guard in
/// that listing is the contract the engine relies on, so this keeps the listing equal to what the compiler and the
/// weaver emit today: the listing is read from the doc at test time and compared, line by line, with the method
/// headers and instructions of the real fixture rendered the way the doc writes IL (comments and column alignment
/// ignored). When they differ, the weaver's output is the truth: fix the doc, unless the guard was meant to stay.
/// </summary>
[TestFixture]
public sealed class GuardListingTests
{
    private const string Section = "## What a woven method looks like";

    [Test]
    public void Before_IsWhatTheCompilerEmits()
    {
        var listing = Methods(Block("Before:"));
        using var module = ModuleDefinition.ReadModule(TestPaths.Fixtures);
        var add = module.GetType("Hybrid.Weaver.Fixtures.Statics").Methods.Single(m => m.Name == "Add");

        Assert.That(listing.Select(m => m.Header).ToArray(), Is.EqualTo(new[] { Header(add) }), Differs("Before", "the method header"));
        Assert.That(listing[0].Instructions, Is.EqualTo(Instructions(add)), Differs("Before", "the compiled body of Statics.Add"));
    }

    [Test]
    public void After_IsWhatTheWeaverEmits()
    {
        var listing = Methods(Block("After ("));
        using var dir = new TempDir();
        var input = dir.File("Hybrid.Weaver.Fixtures.dll");
        // The doc leaves out the fixture's namespace; moving Statics to the global namespace makes the real names
        // those of the listing, instead of teaching the renderer to drop namespaces.
        using (var fixture = ModuleDefinition.ReadModule(TestPaths.Fixtures))
        {
            fixture.GetType("Hybrid.Weaver.Fixtures.Statics").Namespace = "";
            fixture.Write(input);
        }
        var result = Weave.Ok(input, "Statics.Add");
        Assert.That(result.WovenMethods.Select(m => m.OriginalMethod), Is.EqualTo(new[] { "<Hybrid>Original_0_Add" }));

        using var woven = ModuleDefinition.ReadModule(input);
        var statics = woven.GetType("Statics");
        var add = statics.Methods.Single(m => m.Name == "Add");
        var original = statics.Methods.Single(m => m.Name == "<Hybrid>Original_0_Add");

        Assert.That(listing.Select(m => m.Header).ToArray(), Is.EqualTo(new[] { Header(add), Header(original) }), Differs("After", "the method headers"));
        Assert.That(listing[0].Instructions, Is.EqualTo(Instructions(add)), Differs("After", "the guarded body of Statics.Add"));
        Assert.That(listing[1].Instructions, Is.EqualTo(Instructions(original)), Differs("After", "the body of the Original copy"));
    }

    private static string Differs(string listing, string what)
        => "docs/weaver.md, '" + Section + "', " + listing + ": " + what + " in the doc ('But was') is not what is emitted ('Expected')";

    /// <summary>The lines of the first fenced block after the line starting with <paramref name="label"/> in the section.</summary>
    private static string[] Block(string label)
    {
        var lines = File.ReadAllLines(WeaverDoc());
        int i = Array.IndexOf(lines, Section);
        Assert.That(i, Is.GreaterThanOrEqualTo(0), "docs/weaver.md has no section '" + Section + "'");
        while (i < lines.Length && !lines[i].StartsWith(label, StringComparison.Ordinal))
            i++;
        while (i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal))
            i++;
        int end = i + 1;
        while (end < lines.Length && !lines[end].StartsWith("```", StringComparison.Ordinal))
            end++;
        Assert.That(end, Is.LessThan(lines.Length), "docs/weaver.md: no IL listing after '" + label + "' in '" + Section + "'");
        return lines[(i + 1)..end];
    }

    /// <summary>
    /// The <c>.method</c> lines at the start of a line in a listing, each with the <c>IL_xxxx:</c> lines under it (up to
    /// the next blank line), normalised: comments dropped, runs of spaces made one.
    /// </summary>
    private static List<(string Header, List<string> Instructions)> Methods(string[] block)
    {
        var methods = new List<(string Header, List<string> Instructions)>();
        bool inMethod = false;
        foreach (var raw in block)
        {
            var line = Normalise(raw);
            if (raw.StartsWith(".method ", StringComparison.Ordinal)) // not the indented ones of the guard class below
            {
                methods.Add((line, new List<string>()));
                inMethod = true;
            }
            else if (raw.Trim().Length == 0)
                inMethod = false;
            else if (inMethod && Regex.IsMatch(line, "^IL_[0-9a-f]{4}:"))
                methods[^1].Instructions.Add(line);
        }
        Assert.That(methods, Is.Not.Empty, "no .method in the listing");
        return methods;
    }

    private static string Normalise(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        if (comment >= 0)
            line = line.Substring(0, comment);
        return Regex.Replace(line.Trim(), @"\s+", " ");
    }

    private static string WeaverDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")))
                continue;
            var doc = Path.Combine(dir.FullName, "docs", "weaver.md");
            if (File.Exists(doc))
                return doc;
            break;
        }
        Assert.Ignore("docs/weaver.md not found above " + AppContext.BaseDirectory + " (tests run outside the repository)");
        return "";
    }

    // ILDasm-style rendering, enough for the listing: names quoted when they are not plain identifiers, nested types
    // joined with '/', primitive types by keyword, other types as 'class X' or 'valuetype X'.

    private static string Header(MethodDefinition m)
    {
        var access = (m.Attributes & MethodAttributes.MemberAccessMask) switch
        {
            MethodAttributes.Public => "public",
            MethodAttributes.Private => "private",
            MethodAttributes.Assembly => "assembly",
            MethodAttributes.Family => "family",
            MethodAttributes.FamORAssem => "famorassem",
            MethodAttributes.FamANDAssem => "famandassem",
            _ => "privatescope",
        };
        var flags = new[] { access }
            .Concat(m.IsHideBySig ? new[] { "hidebysig" } : Array.Empty<string>())
            .Concat(m.IsStatic ? new[] { "static" } : Array.Empty<string>());
        var impl = new (MethodImplAttributes Flag, string Word)[]
        {
            (MethodImplAttributes.NoInlining, "noinlining"),
            (MethodImplAttributes.AggressiveInlining, "aggressiveinlining"),
            (MethodImplAttributes.NoOptimization, "nooptimization"),
            (MethodImplAttributes.AggressiveOptimization, "aggressiveoptimization"),
        }.Where(x => (m.ImplAttributes & x.Flag) != 0).Select(x => " " + x.Word);
        var parameters = string.Join(", ", m.Parameters.Select(p => Signature(p.ParameterType) + " " + Id(p.Name)));
        return ".method " + string.Join(" ", flags) + " " + Signature(m.ReturnType) + " " + Id(m.Name) + "(" + parameters + ") cil managed" + string.Concat(impl);
    }

    private static List<string> Instructions(MethodDefinition m)
        => m.Body.Instructions.Select(i => "IL_" + i.Offset.ToString("x4") + ": " + i.OpCode.Name + (i.Operand is null ? "" : " " + Operand(i.Operand))).ToList();

    private static string Operand(object operand) => operand switch
    {
        Instruction target => "IL_" + target.Offset.ToString("x4"),
        FieldReference f => Signature(f.FieldType) + " " + Owner(f.DeclaringType) + "::" + Id(f.Name),
        MethodReference m => (m.HasThis ? "instance " : "") + Signature(m.ReturnType) + " " + Owner(m.DeclaringType) + "::" + Id(m.Name)
            + "(" + string.Join(", ", m.Parameters.Select(p => Signature(p.ParameterType))) + ")",
        TypeReference t => Signature(t),
        string s => "\"" + s + "\"",
        VariableDefinition v => "V_" + v.Index,
        ParameterDefinition p => Id(p.Name),
        _ => Convert.ToString(operand, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    /// <summary>A member's declaring type: its bare name, or its signature when it is a generic instance.</summary>
    private static string Owner(TypeReference t) => t is GenericInstanceType ? Signature(t) : Name(t);

    private static string Signature(TypeReference t) => t switch
    {
        ByReferenceType b => Signature(b.ElementType) + "&",
        PointerType p => Signature(p.ElementType) + "*",
        ArrayType { IsVector: true } a => Signature(a.ElementType) + "[]",
        GenericParameter g => (g.Type == GenericParameterType.Method ? "!!" : "!") + g.Position,
        GenericInstanceType g => Signature(g.ElementType) + "<" + string.Join(",", g.GenericArguments.Select(Signature)) + ">",
        _ => t.MetadataType switch
        {
            MetadataType.Void => "void",
            MetadataType.Boolean => "bool",
            MetadataType.Char => "char",
            MetadataType.SByte => "int8",
            MetadataType.Byte => "uint8",
            MetadataType.Int16 => "int16",
            MetadataType.UInt16 => "uint16",
            MetadataType.Int32 => "int32",
            MetadataType.UInt32 => "uint32",
            MetadataType.Int64 => "int64",
            MetadataType.UInt64 => "uint64",
            MetadataType.Single => "float32",
            MetadataType.Double => "float64",
            MetadataType.String => "string",
            MetadataType.Object => "object",
            MetadataType.IntPtr => "native int",
            MetadataType.UIntPtr => "native uint",
            _ => (t.IsValueType ? "valuetype " : "class ") + Name(t),
        },
    };

    private static string Name(TypeReference t)
        => t.DeclaringType != null ? Name(t.DeclaringType) + "/" + Id(t.Name) : (t.Namespace.Length > 0 ? t.Namespace + "." : "") + Id(t.Name);

    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal) { "object", "method", "string", "class", "value", "native", "type" };

    private static string Id(string name)
        => Regex.IsMatch(name, @"^[A-Za-z_][A-Za-z0-9_`$@?.]*$") && !s_keywords.Contains(name) ? name : "'" + name + "'";
}
