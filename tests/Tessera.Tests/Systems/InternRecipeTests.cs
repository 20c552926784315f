using Tessera.Models.Recipes;
using Tessera.Models.Systems.Intern;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>INTERN recipes: the shipped ones load; bad fields are refused with the field named and nothing is written.</summary>
public sealed class InternRecipeTests
{
    private static Exception Refused(string recipe, params string[] overrides)
    {
        string folder = Path.Combine(Path.GetTempPath(), "intern-bad-" + Guid.NewGuid().ToString("N"));
        var loaded = RecipeLoader.Load(RecipeLoader.Locate(recipe), overrides);
        var error = Assert.ThrowsAny<ArgumentException>(() => InternTraining.Run(loaded, folder, null));
        Assert.False(Directory.Exists(folder), "a refused recipe wrote its run folder");
        return error;
    }

    [Theory]
    [InlineData("intern-upa")]
    [InlineData("intern-upe")]
    [InlineData("intern-upg")]
    public void ShippedRecipesRead(string name)
    {
        var (settings, sources, spec) = InternTraining.Read(RecipeLoader.Load(RecipeLoader.Locate(name)));
        Assert.Equal(name[7..], spec.Stage);
        Assert.Equal(name == "intern-upa" ? 0 : 7, sources.Count);
        Assert.Equal(4, settings.Backbone.Stages.Count);
    }

    [Fact]
    public void BadFieldsAreNamed()
    {
        Assert.Contains("'intern.downstream_fraction'", Refused("intern-upg", "intern.downstream_fraction=1.5").Message);
        Assert.Contains("'intern.downstream_fraction'", Refused("intern-upg", "intern.downstream_fraction=0").Message);
        Assert.Contains("'intern.context_length'", Refused("intern-upa", "intern.context_length=8").Message);
        Assert.Contains("'intern.queue_size'", Refused("intern-upa", "intern.queue_size=4").Message);
        var weights = Enumerable.Range(0, 7).Select(t => $"tasks.{t}.weight=0").ToArray();
        Assert.Contains("empty source list", Refused("intern-upe", weights).Message);
        Assert.Contains("'intern.stage'", Refused("intern-upe", "intern.stage=upx").Message);
    }
}
