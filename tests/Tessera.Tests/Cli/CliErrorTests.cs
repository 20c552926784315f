using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Cli;

/// <summary>Issue 16 item 4: errors in words, on stderr, one line, no .NET type names, no files left behind.</summary>
public sealed class CliErrorTests
{
    [Fact]
    public void RecipeErrorsNameTheFieldNotATypeAndOneLineNumber()
    {
        string folder = TrainingFixtures.TempFolder();
        File.WriteAllText(Path.Combine(folder, "unknown.json"), "{\n  \"name\": \"x\",\n  \"stesp\": 5\n}\n");
        File.WriteAllText(Path.Combine(folder, "nested.json"), "{\n  \"name\": \"x\",\n  \"optimizer\": { \"lrr\": 0.1 }\n}\n");
        File.WriteAllText(Path.Combine(folder, "syntax.json"), "{\n  \"name\": \"x\",\n  \"steps\": 5,\n  oops\n}\n");
        File.WriteAllText(Path.Combine(folder, "kind.json"), "{\n  \"name\": \"x\",\n  \"steps\": \"many\"\n}\n");
        var cases = new (string File, string[] Expected)[]
        {
            ("unknown.json", ["unknown field 'stesp' in the recipe (did you mean 'steps'?)", "valid fields of the recipe: name, description, steps"]),
            ("nested.json", ["unknown field 'lrr' in 'optimizer' (did you mean 'lr'?)", "valid fields of 'optimizer': type, lr"]),
            ("syntax.json", ["not valid JSON at line 4, position 3"]),
            ("kind.json", ["field 'steps' expected a whole number"]),
        };
        foreach (var (file, expected) in cases)
        {
            var (code, stdout, stderr) = TesseraProcess.Run(folder, "train", file, "--out", Path.Combine(folder, "out"));
            Assert.True(code != 0, $"{file}: exit 0");
            Assert.Equal("", stdout);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            foreach (var text in expected) Assert.Contains(text, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Tessera.Models", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("LineNumber", stderr, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(Path.Combine(folder, "out")));
    }

    [Fact]
    public void AnOutputFolderThatCannotBeCreatedIsExplained()
    {
        string folder = TrainingFixtures.TempFolder();
        File.WriteAllText(Path.Combine(folder, "a-file"), "");
        foreach (var (outFolder, expected) in new[]
        {
            ("/proc/tessera-x", "'/proc' does not accept new folders"),
            (Path.Combine(folder, "a-file", "run"), "is a file, not a folder"),
        })
        {
            var (code, stdout, stderr) = TesseraProcess.Run(folder, "train", "strokes", "--steps", "1", "--out", outFolder);
            Assert.True(code != 0, $"{outFolder}: exit 0");
            Assert.Equal("", stdout);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Could not find", stderr, StringComparison.Ordinal);
        }
    }
}
