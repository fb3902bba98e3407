using System;
using System.IO;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

/// <summary>docs/testing.md and README.md quote Recipes.cs; this keeps them showing exactly the code the suite compiles and runs.</summary>
[TestFixture]
public class DocsTests
{
    [TestCase("docs/testing.md", "code-under-test")]
    [TestCase("docs/testing.md", "recipes")]
    [TestCase("README.md", "code-under-test")]
    [TestCase("README.md", "recipes")]
    public void DocQuotesTheCompiledRecipesVerbatim(string page, string region)
    {
        string root = RepositoryRoot();
        string source = File.ReadAllText(Path.Combine(root, "tests", "Hybrid.Testing.Tests", "Recipes.cs")).ReplaceLineEndings("\n");
        string doc = File.ReadAllText(Path.Combine(root, page)).ReplaceLineEndings("\n");
        var match = Regex.Match(source, "#region " + Regex.Escape(region) + "\n(.*?)#endregion", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, $"Recipes.cs has no #region {region}");
        string code = match.Groups[1].Value.TrimEnd('\n');
        Assert.That(doc, Does.Contain("```csharp\n" + code + "\n```"),
            $"{page} no longer quotes region '{region}' of Recipes.cs verbatim. Fix: paste the region between its markers into the doc's code block.");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Hybrid.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}
