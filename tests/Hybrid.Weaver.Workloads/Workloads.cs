using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Iced.Intel;
using Mono.Cecil;

namespace Hybrid.Weaver.Workloads
{
    /// <summary>
    /// Deterministic workloads. Each returns a digest of everything it produced, so "same digest" means the woven
    /// library behaved exactly like the pristine one.
    /// </summary>
    public static class Workload
    {
        /// <summary>Decodes and formats <paramref name="code"/> as x64 with two formatters.</summary>
        public static string Iced(byte[] code)
        {
            var sb = new StringBuilder();
            var reader = new ByteArrayCodeReader(code);
            var decoder = global::Iced.Intel.Decoder.Create(64, reader);
            decoder.IP = 0x7FF0_0000_1000;
            var intel = new IntelFormatter();
            var gas = new GasFormatter();
            var output = new StringOutput();
            var count = 0;
            while (reader.CanReadByte)
            {
                decoder.Decode(out var instr);
                intel.Format(instr, output);
                sb.Append(instr.IP.ToString("X")).Append(' ').Append(output.ToStringAndReset()).Append(" | ");
                gas.Format(instr, output);
                sb.Append(output.ToStringAndReset()).Append(' ').Append(instr.Code).Append(' ').Append(instr.Length).Append('\n');
                count++;
            }
            return count + ":" + Digest(sb.ToString());
        }

        /// <summary>Formats the first instruction of <paramref name="code"/> with the Intel formatter.</summary>
        public static string FormatFirst(byte[] code)
        {
            var decoder = global::Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code));
            decoder.Decode(out var instr);
            var output = new StringOutput();
            new IntelFormatter().Format(instr, output);
            return output.ToStringAndReset();
        }

        /// <summary>Reads an assembly with Cecil, lists its members and writes it back out.</summary>
        public static string Cecil(byte[] assembly)
        {
            var sb = new StringBuilder();
            using (var module = ModuleDefinition.ReadModule(new MemoryStream(assembly)))
            {
                foreach (var type in module.GetTypes())
                {
                    sb.Append(type.FullName).Append('\n');
                    foreach (var method in type.Methods)
                    {
                        sb.Append("  ").Append(method.FullName).Append(' ').Append(method.HasBody ? method.Body.Instructions.Count : -1).Append('\n');
                        if (method.HasBody)
                            foreach (var ins in method.Body.Instructions.Take(20))
                                sb.Append("    ").Append(ins).Append('\n');
                    }
                }
                var output = new MemoryStream();
                module.Write(output);
                sb.Append(output.Length);
            }
            return Digest(sb.ToString());
        }

        /// <summary>The name Cecil reports for an assembly (used to observe a redirect of a Cecil getter).</summary>
        public static string CecilModuleName(byte[] assembly)
        {
            using (var module = ModuleDefinition.ReadModule(new MemoryStream(assembly)))
                return module.Assembly.Name.Name;
        }

        static string Digest(string s) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
    }
}
