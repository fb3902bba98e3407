using System;
using System.IO;

namespace Hybrid.Differential;

internal static class Program
{
    public static int Main(string[] args)
    {
        // A crash must not swallow what was already printed: the last progress line is what points at the culprit.
        Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (HelpRequestedException)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"differential: {e.Message}");
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        return options.Bisect ? Bisector.Run(options) : new Lane(options).Run();
    }
}
