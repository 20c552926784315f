using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Systems.XLearner;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Recipes
{
    public sealed partial class Recipe
    {
        /// <summary>
        /// X-Learner stages (recipes/xlearner.json): present only in X-Learner recipes, which
        /// <c>tessera train</c> runs through <see cref="XLearnerTraining"/> instead of the SIMT trainer.
        /// </summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public XLearnerSpec? Xlearner { get; set; }
    }

    /// <summary>The "xlearner" section of a recipe: the stage lengths and the variant.</summary>
    public sealed class XLearnerSpec
    {
        /// <summary>tau: expansion steps each sub-backbone trains alone (of the recipe's 'steps' K).</summary>
        public int Tau { get; set; } = 80;

        /// <summary>Squeeze steps (distillation, or pruning + fine-tuning).</summary>
        public int SqueezeSteps { get; set; } = 120;

        /// <summary>"xlearner", "without-rec", "top-down", "pruned", "reversed" or "hard-sharing".</summary>
        public string Variant { get; set; } = "xlearner";

        /// <summary>Levels the squeeze hints (0-based stage indices).</summary>
        public List<int> HintLevels { get; set; } = [0, 1, 2];

        /// <summary>Pruning rounds of the "pruned" variant.</summary>
        public int PruneRounds { get; set; } = 4;
    }
}

namespace Tessera.Models.Systems.XLearner
{
    using Tessera.Models.Recipes;

    /// <summary>
    /// <c>tessera train xlearner</c>: one X-Learner pipeline from a recipe. Tasks become sources
    /// grouped by head (classification and multi-label → "cls", detection → "det", ...); the
    /// recipe's 'steps' is the expansion length K. Writes OUT/metrics.json (upstream metrics of the
    /// expanded model and of the final one), OUT/model.safetensors (the final backbone: the
    /// squeezed student, or the expanded network for "pruned" and "reversed"),
    /// OUT/expanded.safetensors (the expanded teacher with its heads) and OUT/loss.svg.
    /// </summary>
    public static class XLearnerTraining
    {
        /// <summary>The variants a recipe may name.</summary>
        public static readonly IReadOnlyList<string> Variants = ["xlearner", "without-rec", "top-down", "pruned", "reversed", "hard-sharing"];

        /// <summary>True for a recipe that <see cref="Run"/> must train (model type "xlearner").</summary>
        public static bool Handles(Recipe recipe) => recipe?.Model.Type == "xlearner";

        /// <summary>Settings and sources of an X-Learner recipe, checked.</summary>
        public static (XLearnerSettings Settings, List<SourceSpec> Sources, string Variant) Read(Recipe recipe)
        {
            ArgumentNullException.ThrowIfNull(recipe);
            var spec = recipe.Xlearner ?? new XLearnerSpec();
            if (!Handles(recipe))
                throw new ArgumentException($"xlearner: recipe model type expected \"xlearner\", found \"{recipe.Model.Type}\"", nameof(recipe));
            if (!Variants.Contains(spec.Variant))
                throw new ArgumentException($"xlearner: 'xlearner.variant' expected one of {string.Join(", ", Variants)}, found \"{spec.Variant}\"", nameof(recipe));
            if (recipe.Devices != 1)
                throw new ArgumentException($"xlearner: 'devices' expected 1 (each X-Learner step already runs one batch of every source), found {recipe.Devices}", nameof(recipe));
            if (recipe.Optimizer.Type != "adamw")
                throw new ArgumentException($"xlearner: 'optimizer.type' expected \"adamw\" (every X-Learner stage uses AdamW), found \"{recipe.Optimizer.Type}\"", nameof(recipe));
            if (recipe.Tasks.Any(t => t.Size is not null))
                throw new ArgumentException("xlearner: tasks expected no 'size' of their own (every sub-backbone and the student see one input size, the recipe's 'size')", nameof(recipe));
            var sources = recipe.Tasks.Select(t => new SourceSpec(t.Source, t.Head, SourceSpec.GroupOfHead(t.Head), t.Batch ?? recipe.Batch, t.Name)).ToList();
            var settings = new XLearnerSettings
            {
                Width = recipe.Model.Width,
                Depth = recipe.Model.Depth,
                HeadWidth = recipe.Model.HeadWidth,
                Size = recipe.Size,
                ExpansionSteps = recipe.Steps,
                Tau = spec.Tau,
                SqueezeSteps = spec.SqueezeSteps,
                LearningRate = recipe.Optimizer.Lr,
                WeightDecay = recipe.Optimizer.WeightDecay,
                Warmup = recipe.Schedule.Warmup,
                EvalBatches = Math.Max(1, recipe.EvalBatches),
                HintLevels = spec.HintLevels.ToArray(),
                PruneRounds = spec.PruneRounds,
                Seed = recipe.Seed,
            };
            settings.Validate();
            return (settings, sources, spec.Variant);
        }

        /// <summary>Trains the recipe's variant, writes the outputs and returns the final metrics.</summary>
        public static Dictionary<string, object> Run(Recipe recipe, string outputFolder, Action<string>? log)
        {
            var (settings, sources, variant) = Read(recipe);
            Directory.CreateDirectory(outputFolder);
            var clock = Stopwatch.StartNew();
            var metrics = new Dictionary<string, object>(StringComparer.Ordinal) { ["variant"] = variant };
            var curves = new List<PlotSeries>();
            void Add(string prefix, Dictionary<string, double> values)
            {
                foreach (var (key, value) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal)) metrics[prefix + key] = Math.Round(value, 4);
            }
            void Curve(string name, IEnumerable<CurvePoint> points) => curves.Add(new PlotSeries(name, points.Select(p => ((double)p.Step, p.Loss)).ToList()));

            if (variant == "hard-sharing")
            {
                var model = XLearnerStages.CreateHardSharing(sources, settings);
                Curve("hard sharing", XLearnerStages.Train(model.Model, settings, settings.ExpansionSteps, 0, settings.ExpansionSteps, log, "train"));
                Add("", SourceTrainer.Evaluate(model.Model, settings.EvalBatches));
                WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), model.Model);
            }
            else
            {
                var kind = variant switch
                {
                    "without-rec" => ReconciliationKind.None,
                    "top-down" => ReconciliationKind.TopDown,
                    _ => ReconciliationKind.BottomUp,
                };
                var (expanded, model) = XLearnerStages.CreateExpanded(sources, settings, variant == "reversed" ? ReconciliationKind.None : kind, settings.Width);
                Curve("expand (alone)", XLearnerStages.ExpandAlone(expanded, model, settings, log));
                if (variant == "reversed")
                {
                    int halfWidth = Math.Max(2, (int)Math.Round(settings.Width / Math.Sqrt(2)));
                    var (half, halfModel) = XLearnerStages.CreateExpanded(sources, settings, ReconciliationKind.BottomUp, halfWidth);
                    Curve("squeeze (per task)", XLearnerStages.SqueezeEach(expanded, model, half, settings, log).Select(p => p with { Step = p.Step + settings.Tau }));
                    Curve("expand (joint, half width)", XLearnerStages.ExpandJoint(half, halfModel, settings, log));
                    Add("", SourceTrainer.Evaluate(halfModel, settings.EvalBatches));
                    WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), halfModel);
                }
                else
                {
                    Curve("expand (joint)", XLearnerStages.ExpandJoint(expanded, model, settings, log));
                    Add("expanded/", SourceTrainer.Evaluate(model, settings.EvalBatches));
                    WeightsFile.Save(Path.Combine(outputFolder, "expanded.safetensors"), model);
                    if (variant == "pruned")
                    {
                        long keep = new NarrowResNetBackbone(3, settings.Width, settings.Depth, XLearnerStages.InitStream(settings.Seed, 2)).Module.Parameters().Where(p => p.Rank == 4).Sum(p => (long)p.Numel);
                        var pruning = new MagnitudePruning(expanded, keep);
                        Curve("prune + fine-tune", pruning.Run(model, settings, log).Select(p => p with { Step = p.Step + settings.ExpansionSteps }));
                        Add("", SourceTrainer.Evaluate(model, settings.EvalBatches));
                        metrics["nonzero_conv_weights"] = pruning.NonZero();
                        WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), model);
                    }
                    else
                    {
                        var (student, guidance, squeeze) = XLearnerStages.Squeeze(expanded, model, settings, log);
                        Curve("squeeze", squeeze.Select(p => p with { Step = p.Step + settings.ExpansionSteps }));
                        var guided = new GuidedStudent(student, guidance, expanded.GroupOf, expanded.FeatureChannels);
                        Add("", SourceTrainer.Evaluate(new MultiTaskModel(guided, model.Tasks), settings.EvalBatches));
                        WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), student.Module);
                        metrics["student_parameters"] = student.Module.ParameterCount();
                    }
                }
                metrics["expanded_parameters"] = expanded.ParameterCount();
            }
            metrics["steps"] = settings.ExpansionSteps;
            metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            Figures.SaveCharts(Path.Combine(outputFolder, "loss.svg"), [new ChartPanel($"{recipe.Name}: stage losses", "step", "loss", curves, LogY: true)]);
            AtomicFile.WriteAllText(Path.Combine(outputFolder, "metrics.json"), JsonSerializer.Serialize(metrics) + Environment.NewLine);
            return metrics;
        }
    }
}
