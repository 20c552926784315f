using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Systems.Eva;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Recipes
{
    public sealed partial class Recipe
    {
        /// <summary>EVA settings (recipes/eva*.json): present only in EVA recipes, which <c>tessera train</c> runs through <see cref="EvaTraining"/>.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public EvaSpec? Eva { get; set; }
    }

    /// <summary>The "eva" section of a recipe.</summary>
    public sealed class EvaSpec
    {
        /// <summary>Teacher CLIP checkpoint (eva, eva-clip): OUT/teacher.safetensors of `tessera train eva-clip-teacher`.</summary>
        public string? Teacher { get; set; }

        /// <summary>EVA student checkpoint (eva-clip with init "eva"): OUT/student.safetensors of `tessera train eva`.</summary>
        public string? Student { get; set; }

        /// <summary>eva-clip: the image tower's initialisation, "eva" (the student) or "scratch".</summary>
        public string Init { get; set; } = "eva";

        /// <summary>eva: "mim" (masked feature prediction) or "fd" (feature distillation, no mask).</summary>
        public string Objective { get; set; } = "mim";

        public float MaskRatio { get; set; } = 0.4f;
        public int MinBlockPatches { get; set; } = 4;
        public int Patch { get; set; } = 4;

        /// <summary>Attention heads of the image tower (teacher) or of the student.</summary>
        public int Heads { get; set; } = 2;

        public int TextWidth { get; set; } = 32;
        public int TextDepth { get; set; } = 2;
        public int TextHeads { get; set; } = 2;
        public int EmbedDim { get; set; } = 32;

        /// <summary>eva: the teacher feature width the student's head regresses (must equal the teacher checkpoint's).</summary>
        public int TargetWidth { get; set; } = 32;

        /// <summary>eva: stochastic depth while pre-training.</summary>
        public float DropPath { get; set; } = 0.1f;

        /// <summary>Zero-shot prompt templates with "{class}"; null = "a {colour} {class}" over the colour words.</summary>
        public List<string>? Prompts { get; set; }

        /// <summary>eva: fine-tuning steps on <see cref="Suite"/> after pre-training (0 = none).</summary>
        public int FinetuneSteps { get; set; }

        public string Suite { get; set; } = "down-shapes";

        public int ZeroShotImages { get; set; } = 400;
    }
}

namespace Tessera.Models.Systems.Eva
{
    using Tessera.Models.Recipes;

    /// <summary>
    /// <c>tessera train eva-clip-teacher | eva | eva-clip</c>: the three EVA stages as recipes.
    /// The teacher writes OUT/teacher.safetensors (its config in the metadata); eva reads it
    /// (eva.teacher), pre-trains a student by masked feature prediction (or FD) and writes
    /// OUT/student.safetensors; eva-clip reads both and continues contrastive training, writing
    /// OUT/clip.safetensors (itself a CLIP checkpoint). Each writes metrics.json and loss.svg.
    /// Every recipe field is checked, and every checkpoint read, before the output folder is touched.
    /// </summary>
    public static class EvaTraining
    {
        public static readonly IReadOnlyList<string> ModelTypes = ["eva-clip-teacher", "eva", "eva-clip"];

        public static bool Handles(Recipe recipe) => recipe is not null && ModelTypes.Contains(recipe.Model.Type);

        /// <summary>What a checked recipe will run.</summary>
        public sealed record Plan(string Kind, EvaSettings Settings, ClipConfig Teacher, StudentConfig? Student, EvaSpec Spec);

        /// <summary>Checks the recipe (and the checkpoints it names) and returns what to run; throws naming the field.</summary>
        public static Plan Read(Recipe recipe)
        {
            ArgumentNullException.ThrowIfNull(recipe);
            if (!Handles(recipe))
                throw new ArgumentException($"eva: recipe model type expected one of {string.Join(", ", ModelTypes)}, found \"{recipe.Model.Type}\"", nameof(recipe));
            var spec = recipe.Eva ?? new EvaSpec();
            string kind = recipe.Model.Type;
            if (recipe.Optimizer.Type != "adamw")
                throw new ArgumentException($"eva: 'optimizer.type' expected \"adamw\" (every EVA stage uses AdamW), found \"{recipe.Optimizer.Type}\"", nameof(recipe));
            if (recipe.Devices != 1)
                throw new ArgumentException($"eva: 'devices' expected 1, found {recipe.Devices}", nameof(recipe));
            if (recipe.Tasks.Count != 1 || recipe.Tasks[0].Source != EvaStages.PretrainSource)
                throw new ArgumentException($"eva: 'tasks' expected one task on the \"{EvaStages.PretrainSource}\" source (image-caption pairs), found [{string.Join(", ", recipe.Tasks.Select(t => t.Source))}]", nameof(recipe));
            var prompts = spec.Prompts?.ToArray();
            ZeroShot.CheckTemplates(prompts ?? ZeroShot.DefaultTemplates, "eva.prompts");
            var settings = new EvaSettings
            {
                PretrainSteps = [recipe.Steps], TeacherSteps = recipe.Steps, ClipSteps = recipe.Steps, FineTuneSteps = Math.Max(1, spec.FinetuneSteps),
                TeacherBatch = recipe.Batch, PretrainBatch = recipe.Batch, FineTuneBatch = recipe.Batch,
                TeacherLearningRate = recipe.Optimizer.Lr, PretrainLearningRate = recipe.Optimizer.Lr, FineTuneLearningRate = recipe.Optimizer.Lr,
                WeightDecay = recipe.Optimizer.WeightDecay, Beta2 = recipe.Optimizer.Beta2, Warmup = Math.Max(1, recipe.Schedule.Warmup), Seed = recipe.Seed,
                MaskRatio = spec.MaskRatio, MinBlockPatches = spec.MinBlockPatches, PretrainDropPath = spec.DropPath,
                ClassificationSuites = [spec.Suite], Prompts = prompts, ZeroShotImages = spec.ZeroShotImages,
            };
            switch (kind)
            {
                case "eva-clip-teacher":
                {
                    var teacher = new ClipConfig
                    {
                        ImageSize = recipe.Size, PatchSize = spec.Patch, ImageWidth = recipe.Model.Width, ImageDepth = recipe.Model.Depth, ImageHeads = spec.Heads,
                        TextWidth = spec.TextWidth, TextDepth = spec.TextDepth, TextHeads = spec.TextHeads, EmbedDim = spec.EmbedDim,
                    };
                    if (recipe.Size % spec.Patch != 0)
                        throw new ArgumentException($"eva: 'size' expected a multiple of 'eva.patch' ({spec.Patch}), found {recipe.Size}", nameof(recipe));
                    settings = settings with { Teacher = teacher };
                    settings.Validate();
                    return new Plan(kind, settings, teacher, null, spec);
                }
                case "eva":
                {
                    EvaSettings.CheckMaskRatio(spec.MaskRatio);
                    if (spec.Objective is not ("mim" or "fd"))
                        throw new ArgumentException($"eva: 'eva.objective' expected \"mim\" (masked feature prediction) or \"fd\" (feature distillation), found \"{spec.Objective}\"", nameof(recipe));
                    var teacher = ClipModel.ReadConfig(spec.Teacher, "eva.teacher");
                    EvaStudent.CheckTeacher(teacher, recipe.Size, spec.Patch, spec.TargetWidth, "eva.teacher");
                    var student = new StudentConfig(recipe.Size, spec.Patch, recipe.Model.Width, recipe.Model.Depth, spec.Heads, spec.TargetWidth);
                    settings = settings with { Teacher = teacher, StudentWidth = student.Width, StudentDepth = student.Depth, StudentHeads = student.Heads };
                    settings.Validate();
                    return new Plan(kind, settings, teacher, student, spec);
                }
                default:
                {
                    if (spec.Init is not ("eva" or "scratch"))
                        throw new ArgumentException($"eva: 'eva.init' expected \"eva\" (the student's backbone) or \"scratch\", found \"{spec.Init}\"", nameof(recipe));
                    var teacher = ClipModel.ReadConfig(spec.Teacher, "eva.teacher");
                    var student = spec.Init == "eva"
                        ? EvaStudent.ReadConfig(spec.Student, "eva.student")
                        : new StudentConfig(teacher.ImageSize, teacher.PatchSize, recipe.Model.Width, recipe.Model.Depth, spec.Heads, teacher.ImageWidth);
                    EvaStudent.CheckTeacher(teacher, student.ImageSize, student.PatchSize, student.TargetWidth, "eva.teacher");
                    settings = settings with { Teacher = teacher, StudentWidth = student.Width, StudentDepth = student.Depth, StudentHeads = student.Heads };
                    settings.Validate();
                    return new Plan(kind, settings, teacher, student, spec);
                }
            }
        }

        /// <summary>Runs the recipe's stage, writes its outputs and returns the final metrics.</summary>
        public static Dictionary<string, object> Run(Recipe recipe, string outputFolder, Action<string>? log)
        {
            var plan = Read(recipe);
            var settings = plan.Settings;
            var clock = Stopwatch.StartNew();
            var metrics = new Dictionary<string, object>(StringComparer.Ordinal) { ["stage"] = plan.Kind };
            var templates = settings.Prompts ?? ZeroShot.DefaultTemplates;
            List<EvaPoint> curve;
            switch (plan.Kind)
            {
                case "eva-clip-teacher":
                {
                    // Loading nothing: the teacher starts from scratch.
                    Directory.CreateDirectory(outputFolder);
                    var teacher = new ClipModel(plan.Teacher, EvaStages.Stream(settings.Seed, 0));
                    curve = EvaStages.TrainClip(teacher, settings.TeacherSteps, settings.TeacherBatch, settings.TeacherLearningRate, settings, EvaStages.Stream(settings.Seed, 1), log, "teacher CLIP");
                    teacher.Save(Path.Combine(outputFolder, "teacher.safetensors"));
                    ZeroShotMetrics(metrics, teacher, settings, templates);
                    metrics["logit_scale"] = Math.Round(1.0 / teacher.LogitScale.Temperature, 3);
                    break;
                }
                case "eva":
                {
                    var teacher = ClipModel.Load(plan.Spec.Teacher!);
                    teacher.Freeze();
                    Directory.CreateDirectory(outputFolder);
                    var student = new EvaStudent(plan.Student!, settings.PretrainDropPath, EvaStages.Stream(settings.Seed, 2));
                    bool masked = plan.Spec.Objective == "mim";
                    curve = EvaStages.Pretrain(student, teacher, settings.PretrainSteps[0], masked, settings, EvaStages.Stream(settings.Seed, 3), EvaStages.Stream(settings.Seed, 4), log, plan.Spec.Objective);
                    student.Save(Path.Combine(outputFolder, "student.safetensors"));
                    var probe = EvaStages.Probe(student, teacher, masked, settings);
                    metrics["objective"] = plan.Spec.Objective;
                    metrics["held_out_cosine"] = Math.Round(probe.Cosine, 4);
                    metrics["feature_std"] = Math.Round(probe.FeatureStd, 4);
                    metrics["teacher_feature_std"] = Math.Round(probe.TeacherStd, 4);
                    if (plan.Spec.FinetuneSteps > 0)
                    {
                        var shape = new VitShape(plan.Student!.ImageSize, plan.Student.PatchSize, plan.Student.Width, plan.Student.Depth, plan.Student.Heads);
                        metrics[$"{plan.Spec.Suite}/top1"] = Math.Round(EvaFineTune.Classification(shape, student.Backbone.StateDict(), plan.Spec.Suite, settings, log, "fine-tune"), 2);
                    }
                    break;
                }
                default:
                {
                    var teacher = ClipModel.Load(plan.Spec.Teacher!);
                    teacher.Freeze();
                    var student = plan.Spec.Init == "eva" ? EvaStudent.Load(plan.Spec.Student!) : null;
                    Directory.CreateDirectory(outputFolder);
                    var clip = student is null
                        ? EvaClip.FromScratch(teacher, settings, EvaStages.Stream(settings.Seed, 5))
                        : EvaClip.FromStudent(student, teacher, settings, EvaStages.Stream(settings.Seed, 5));
                    curve = EvaStages.TrainClip(clip, settings.ClipSteps, settings.TeacherBatch, settings.TeacherLearningRate, settings, EvaStages.Stream(settings.Seed, 6), log, $"CLIP ({plan.Spec.Init} init)");
                    clip.Save(Path.Combine(outputFolder, "clip.safetensors"));
                    metrics["init"] = plan.Spec.Init;
                    ZeroShotMetrics(metrics, clip, settings, templates);
                    break;
                }
            }
            metrics["final_loss"] = Math.Round(curve.TakeLast(10).Average(p => p.Value), 4);
            metrics["steps"] = recipe.Steps;
            metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            var series = new PlotSeries(plan.Kind, curve.Select(p => ((double)p.Step, p.Value)).ToList());
            Figures.SaveCharts(Path.Combine(outputFolder, "loss.svg"), [new ChartPanel($"{recipe.Name}: training loss", "step", "loss", [series], LogY: true)]);
            AtomicFile.WriteAllText(Path.Combine(outputFolder, "metrics.json"), JsonSerializer.Serialize(metrics) + Environment.NewLine);
            return metrics;
        }

        private static void ZeroShotMetrics(Dictionary<string, object> metrics, ClipModel clip, EvaSettings settings, IReadOnlyList<string> templates)
        {
            metrics["zero_shot/captions"] = Math.Round(ZeroShot.Top1(clip, EvaStages.PretrainSource, settings.ZeroShotImages, templates), 2);
            metrics[$"zero_shot/{EvaArms.HeldOutZeroShot}"] = Math.Round(ZeroShot.Top1(clip, EvaArms.HeldOutZeroShot, settings.ZeroShotImages, templates), 2);
        }
    }
}
