using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Experiments;
using Tessera.Models.Recipes;
using Tessera.Models.Systems.Eva;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// EVA's mechanisms at toy scale: the frozen teacher gets no gradient and keeps its exact weights,
/// EVA-CLIP's image tower starts as the student's backbone bit for bit, block masks at EVA's
/// settings have the ratio and few contiguous blocks, prompts become tokens, the three recipes run
/// end to end through their checkpoints, and bad input fails before the run folder exists.
/// </summary>
public sealed class EvaTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tessera-eva-" + Guid.NewGuid().ToString("N"));

    /// <summary>A CLIP small enough for tests: 4×4 grid of 8-pixel patches, width 8.</summary>
    private static readonly ClipConfig TinyClip = new()
    {
        ImageSize = 32, PatchSize = 8, ImageWidth = 8, ImageDepth = 1, ImageHeads = 2, TextWidth = 8, TextDepth = 1, TextHeads = 2, EmbedDim = 8,
    };

    private static readonly EvaSettings Tiny = new()
    {
        Teacher = TinyClip, TeacherSteps = 2, TeacherBatch = 4, StudentWidth = 8, StudentDepth = 1, StudentHeads = 2, PretrainSteps = [3], PretrainBatch = 4,
        MinBlockPatches = 2, FineTuneSteps = 2, SegmentationSteps = 2, FineTuneBatch = 4, ClipSteps = 2, TestImages = 8, ZeroShotImages = 8, Warmup = 1,
    };

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static float[][] Snapshot(Tessera.Models.Nn.Module module) => module.Parameters().Select(p => p.Contiguous().ToArray()).ToArray();

    [Fact]
    public void FrozenTeacherGetsNoGradientAndKeepsItsExactWeights()
    {
        var teacher = new ClipModel(TinyClip, new Generator(1));
        teacher.Freeze();
        var before = Snapshot(teacher);
        var student = EvaStudent.For(Tiny, TinyClip, new Generator(2));
        var studentBefore = Snapshot(student);
        var curve = EvaStages.Pretrain(student, teacher, 3, masked: true, Tiny, new Generator(3), new Generator(4), null, "test");
        Assert.Equal(3, curve.Count);
        Assert.All(teacher.Parameters(), p => Assert.Null(p.Grad));
        var after = Snapshot(teacher);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]); // bit-identical
        Assert.Contains(Snapshot(student).Zip(studentBefore), pair => !pair.First.SequenceEqual(pair.Second));
        // The mask token is trained (it stands in for every masked patch).
        Assert.NotEqual(studentBefore[Array.FindIndex(student.NamedParameters().ToArray(), p => p.Name == "mask_token")], student.MaskToken.ToArray());
    }

    [Fact]
    public void PretrainRefusesATeacherThatIsNotFrozen()
    {
        var teacher = new ClipModel(TinyClip, new Generator(1));
        var student = EvaStudent.For(Tiny, TinyClip, new Generator(2));
        var error = Assert.Throws<InvalidOperationException>(() => EvaStages.Pretrain(student, teacher, 1, true, Tiny, new Generator(3), new Generator(4), null, "test"));
        Assert.Contains("frozen", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EvaClipImageTowerStartsBitIdenticalToTheStudent()
    {
        var teacher = new ClipModel(TinyClip, new Generator(1));
        teacher.Freeze();
        var student = EvaStudent.For(Tiny, TinyClip, new Generator(2));
        EvaStages.Pretrain(student, teacher, 2, masked: true, Tiny, new Generator(3), new Generator(4), null, "test");
        var clip = EvaClip.FromStudent(student, teacher, Tiny, new Generator(5));
        var studentState = student.Backbone.StateDict();
        var imageState = clip.Image.StateDict();
        Assert.Equal(studentState.Keys.Order(), imageState.Keys.Order());
        foreach (var (key, value) in studentState)
            Assert.Equal(value.Contiguous().ToArray(), imageState[key].Contiguous().ToArray());
        foreach (var (key, value) in teacher.StateDict().Where(kv => !kv.Key.StartsWith("image", StringComparison.Ordinal)))
            Assert.Equal(value.Contiguous().ToArray(), clip.StateDict()[key].Contiguous().ToArray());
        var scratch = EvaClip.FromScratch(teacher, Tiny, new Generator(5));
        Assert.NotEqual(studentState["pos_embed"].ToArray(), scratch.Image.PosEmbed.ToArray());
        Assert.Equal(clip.ImageProjection.Weight.ToArray(), scratch.ImageProjection.Weight.ToArray()); // same fresh projection in both arms
        Assert.All(clip.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void BlockMasksAtEvaSettingsHaveTheRatioAndFewContiguousBlocks()
    {
        var settings = new EvaSettings(); // 8×8 grid, 40%, blocks of at least 4 patches
        var masks = EvaStages.Masks(400, settings, new Generator(7)).ToArray();
        int patches = settings.Grid * settings.Grid;
        double ratio = masks.Average();
        Assert.InRange(ratio, 0.36, 0.41);
        var random = new Generator(8);
        double blockComponents = 0, scatteredComponents = 0;
        for (int m = 0; m < 400; m++)
        {
            var mask = masks.AsSpan(m * patches, patches).ToArray().Select(v => v > 0.5f).ToArray();
            Assert.InRange(mask.Count(v => v), 1, (int)MathF.Round(0.4f * patches)); // never above the target
            blockComponents += Components(mask, settings.Grid);
            // The same number of patches scattered uniformly, for comparison.
            var order = Enumerable.Range(0, patches).OrderBy(_ => random.NextInt(1 << 30)).Take(mask.Count(v => v)).ToHashSet();
            scatteredComponents += Components(Enumerable.Range(0, patches).Select(order.Contains).ToArray(), settings.Grid);
        }
        Assert.True(blockComponents / 400 < 4.0, $"block masks should be a few contiguous blocks, found {blockComponents / 400:F2} components on average");
        Assert.True(blockComponents < 0.5 * scatteredComponents, $"block masks ({blockComponents / 400:F2} components) should be far more contiguous than scattered ones ({scatteredComponents / 400:F2})");
    }

    /// <summary>4-connected components of the masked patches.</summary>
    private static int Components(bool[] mask, int grid)
    {
        var seen = new bool[mask.Length];
        int count = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            count++;
            var stack = new Stack<int>([start]);
            seen[start] = true;
            while (stack.Count > 0)
            {
                int p = stack.Pop(), y = p / grid, x = p % grid;
                foreach (var (ny, nx) in new[] { (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1) })
                {
                    if (ny < 0 || nx < 0 || ny >= grid || nx >= grid) continue;
                    int q = ny * grid + nx;
                    if (mask[q] && !seen[q]) { seen[q] = true; stack.Push(q); }
                }
            }
        }
        return count;
    }

    [Fact]
    public void PromptsBecomeCaptionTokensClassMajor()
    {
        var tokens = ZeroShot.PromptTokens(["circle", "star"], ["a red {class}", "a large blue {class}"], 20);
        Assert.Equal([4, 20], tokens.ShapeArray);
        var rows = tokens.ToArray<long>();
        Assert.Equal("a large blue circle", CaptionVocabulary.Decode(rows.AsSpan(20, 20)));
        Assert.Equal("a red star", CaptionVocabulary.Decode(rows.AsSpan(40, 20)));
        Assert.Equal(12, ZeroShot.DefaultTemplates.Count);
        var clip = new ClipModel(TinyClip, new Generator(1));
        Assert.Equal([2, TinyClip.EmbedDim], ZeroShot.Classifier(clip, ["circle", "star"], ZeroShot.DefaultTemplates).ShapeArray);
    }

    private Recipe TinyRecipe(string name, params string[] overrides) =>
        RecipeLoader.Load(RecipeLoader.Locate(name), ["steps=2", "batch=4", "schedule.warmup=1", "eva.zero_shot_images=8", "eva.patch=8", .. overrides]);

    private string TeacherCheckpoint()
    {
        string path = Path.Combine(_folder, "teacher", "teacher.safetensors");
        new ClipModel(TinyClip, new Generator(1)).Save(path);
        return path;
    }

    [Fact]
    public void TheThreeRecipesRunEndToEndThroughTheirCheckpoints()
    {
        string teacherOut = Path.Combine(_folder, "t"), studentOut = Path.Combine(_folder, "s"), clipOut = Path.Combine(_folder, "c");
        var teacherMetrics = EvaTraining.Run(TinyRecipe("eva-clip-teacher", "model.width=8", "model.depth=1", "eva.heads=2", "eva.text_width=8", "eva.text_depth=1", "eva.embed_dim=8"), teacherOut, null);
        Assert.True(File.Exists(Path.Combine(teacherOut, "teacher.safetensors")));
        Assert.InRange(Convert.ToDouble(teacherMetrics["zero_shot/captions"]), 0, 100);
        Assert.Equal(TinyClip with { }, ClipModel.ReadConfig(Path.Combine(teacherOut, "teacher.safetensors"), "eva.teacher") with { });

        string teacher = Path.Combine(teacherOut, "teacher.safetensors");
        var studentMetrics = EvaTraining.Run(TinyRecipe("eva", "model.width=8", "model.depth=1", "eva.heads=2", "eva.target_width=8", $"eva.teacher={teacher}"), studentOut, null);
        Assert.InRange(Convert.ToDouble(studentMetrics["held_out_cosine"]), -1, 1);
        string student = Path.Combine(studentOut, "student.safetensors");
        var loaded = EvaStudent.Load(student);
        Assert.Equal(new StudentConfig(32, 8, 8, 1, 2, 8), loaded.Config);

        var clipMetrics = EvaTraining.Run(TinyRecipe("eva-clip", "eva.heads=2", $"eva.teacher={teacher}", $"eva.student={student}"), clipOut, null);
        Assert.Equal("eva", clipMetrics["init"]);
        Assert.True(File.Exists(Path.Combine(clipOut, "clip.safetensors")));
        Assert.True(File.Exists(Path.Combine(clipOut, "metrics.json")));
        // EVA-CLIP's checkpoint is itself a CLIP checkpoint with the student's image tower.
        Assert.Equal(8, ClipModel.Load(Path.Combine(clipOut, "clip.safetensors")).Config.ImageWidth);
    }

    private void AssertRejected(Recipe recipe, string output, params string[] fragments)
    {
        var error = Assert.ThrowsAny<Exception>(() => EvaTraining.Run(recipe, output, null));
        Assert.True(error is ArgumentException or FileNotFoundException, $"expected an argument or missing-file error, found {error.GetType().Name}: {error.Message}");
        foreach (var fragment in fragments) Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output), $"nothing may be written before the recipe is checked, found {output}");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("-0.2")]
    [InlineData("1.5")]
    public void MaskRatioOutsideTheOpenIntervalIsRejected(string ratio)
    {
        string teacher = TeacherCheckpoint();
        AssertRejected(TinyRecipe("eva", $"eva.mask_ratio={ratio}", $"eva.teacher={teacher}", "eva.target_width=8"), Path.Combine(_folder, "out"), "eva.mask_ratio", "(0, 1)", $"found {float.Parse(ratio, System.Globalization.CultureInfo.InvariantCulture)}");
    }

    [Fact]
    public void TeacherOfAnotherFeatureWidthIsRejected()
    {
        string teacher = TeacherCheckpoint();
        AssertRejected(TinyRecipe("eva", $"eva.teacher={teacher}", "eva.target_width=16"), Path.Combine(_folder, "out"), "eva.teacher", "feature width expected 16", "found 8");
    }

    [Fact]
    public void TeacherOfAnotherPatchGridIsRejected()
    {
        string teacher = TeacherCheckpoint();
        AssertRejected(TinyRecipe("eva", $"eva.teacher={teacher}", "eva.target_width=8", "eva.patch=4"), Path.Combine(_folder, "out"), "eva.teacher", "patch grid expected 8×8", "found 4×4");
    }

    [Fact]
    public void MissingTeacherCheckpointIsRejected()
    {
        AssertRejected(TinyRecipe("eva", "eva.teacher=null"), Path.Combine(_folder, "out"), "eva.teacher", "found none");
        AssertRejected(TinyRecipe("eva", $"eva.teacher={Path.Combine(_folder, "nowhere.safetensors")}"), Path.Combine(_folder, "out"), "eva.teacher", "found no file at");
        AssertRejected(TinyRecipe("eva-clip", $"eva.teacher={Path.Combine(_folder, "nowhere.safetensors")}"), Path.Combine(_folder, "out"), "eva.teacher", "found no file at");
    }

    [Fact]
    public void PromptTemplateWithoutThePlaceholderIsRejected()
    {
        AssertRejected(TinyRecipe("eva-clip-teacher", "eva.prompts=[\"a red circle\"]"), Path.Combine(_folder, "out"), "eva.prompts", "{class}", "found \"a red circle\"");
        AssertRejected(TinyRecipe("eva-clip-teacher", "eva.prompts=[\"a photo of a {class}\"]"), Path.Combine(_folder, "out"), "eva.prompts", "photo");
    }

    [Fact]
    public void CommittedRecipesAndTheExperimentAreRegistered()
    {
        foreach (var name in EvaTraining.ModelTypes)
            Assert.True(EvaTraining.Handles(RecipeLoader.Load(RecipeLoader.Locate(name))), name);
        Assert.Equal("eva", ExperimentCatalog.Find("eva").Name);
        EvaExperiment.Scale(quick: true).Validate();
        EvaExperiment.Scale(quick: false).Validate();
        Assert.Equal(3, new EvaSettings().PretrainSteps.Count);
        Assert.Equal(0.4f, new EvaSettings().MaskRatio);
        _ = JsonSerializer.Serialize(new EvaSettings());
    }
}
