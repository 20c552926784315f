using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Systems.Intern;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Recipes
{
    public sealed partial class Recipe
    {
        /// <summary>INTERN stages (recipes/intern-*.json): present only in INTERN recipes, which <c>tessera train</c> runs through <see cref="InternTraining"/>.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public InternSpec? Intern { get; set; }
    }

    /// <summary>The "intern" section of a recipe.</summary>
    public sealed class InternSpec
    {
        /// <summary>"upa" (Up-A-G + Up-A-L), "upe" (Up-A, then one expert per task type of the tasks) or "upg" (Up-A, experts, then Up-G).</summary>
        public string Stage { get; set; } = "upa";

        /// <summary>Up-A-G steps when the stage is upe or upg (for upa the recipe's 'steps').</summary>
        public int UpaSteps { get; set; } = 150;

        public int UpalSteps { get; set; } = 40;

        /// <summary>Expert steps when the stage is upg (for upe the recipe's 'steps').</summary>
        public int ExpertSteps { get; set; } = 80;

        /// <summary>Up-G with knowledge-transfer modules (false: hard sharing only).</summary>
        public bool Ktm { get; set; } = true;

        public int QueueSize { get; set; } = 96;

        public int ContextLength { get; set; } = 18;

        public double SpikeRatio { get; set; } = 3.0;

        public int TextWidth { get; set; } = 32;

        /// <summary>MetaNet stages: kind ("conv" or "transformer"), channels, blocks, window (0 = global).</summary>
        public List<InternStageSpec> Stages { get; set; } = [new() { Kind = "conv", Channels = 8 }, new() { Kind = "conv", Channels = 16 }, new() { Kind = "transformer", Channels = 24, Window = 2 }, new() { Kind = "transformer", Channels = 32 }];

        /// <summary>When set, Down-A of the final backbone with this fraction of the downstream training data (10% = 0.1, 100% = 1).</summary>
        public double? DownstreamFraction { get; set; }
    }

    public sealed class InternStageSpec
    {
        public string Kind { get; set; } = "conv";
        public int Channels { get; set; } = 8;
        public int Blocks { get; set; } = 1;
        public int Window { get; set; }
    }
}

namespace Tessera.Models.Systems.Intern
{
    using Tessera.Models.Recipes;

    /// <summary>
    /// <c>tessera train intern-upa|intern-upe|intern-upg</c>: one INTERN pipeline from a recipe (model
    /// type "intern"). Tasks are the Up-E / Up-G sources (head = task type, weight = nominal size);
    /// an upa recipe names the "captions" source. Every setting is checked before the output folder
    /// is touched. Writes OUT/metrics.json, OUT/model.safetensors (the final backbone) and OUT/loss.svg.
    /// </summary>
    public static class InternTraining
    {
        public static readonly IReadOnlyList<string> Stages = ["upa", "upe", "upg"];

        public static bool Handles(Recipe recipe) => recipe?.Model.Type == "intern";

        /// <summary>Settings and sources of an INTERN recipe, checked (the errors name the recipe field).</summary>
        public static (InternSettings Settings, List<InternSource> Sources, InternSpec Spec) Read(Recipe recipe)
        {
            ArgumentNullException.ThrowIfNull(recipe);
            var spec = recipe.Intern ?? new InternSpec();
            if (!Handles(recipe))
                throw new ArgumentException($"intern: recipe model type expected \"intern\", found \"{recipe.Model.Type}\"", nameof(recipe));
            if (!Stages.Contains(spec.Stage))
                throw new ArgumentException($"intern: 'intern.stage' expected one of {string.Join(", ", Stages)}, found \"{spec.Stage}\"", nameof(recipe));
            if (spec.DownstreamFraction is double fraction && !(fraction > 0 && fraction <= 1))
                throw new ArgumentOutOfRangeException(nameof(recipe), fraction, $"intern: 'intern.downstream_fraction' expected in (0, 1], found {fraction.ToString(CultureInfo.InvariantCulture)}");
            var stages = spec.Stages.Select((s, i) => s.Kind switch
            {
                "conv" => new MetaNetStage(GopKind.Conv, s.Channels, s.Blocks, s.Window),
                "transformer" => new MetaNetStage(GopKind.Transformer, s.Channels, s.Blocks, s.Window),
                _ => throw new ArgumentException($"intern: 'intern.stages.{i}.kind' expected \"conv\" or \"transformer\", found \"{s.Kind}\"", nameof(recipe)),
            }).ToArray();
            var sources = new List<InternSource>();
            if (spec.Stage != "upa")
            {
                for (int t = 0; t < recipe.Tasks.Count; t++)
                {
                    var task = recipe.Tasks[t];
                    var type = task.Head switch
                    {
                        "classification" => TaskType.Classification,
                        "detection" => TaskType.Detection,
                        "segmentation" => TaskType.Segmentation,
                        _ => throw new ArgumentException($"intern: 'tasks.{t}.head' expected classification, detection or segmentation, found \"{task.Head}\"", nameof(recipe)),
                    };
                    if (task.Weight > 0) sources.Add(new InternSource(task.Source, type, (long)Math.Max(1, task.Weight)));
                }
                if (sources.Count == 0)
                    throw new ArgumentException("intern: 'tasks' expected at least one source with a positive weight for Up-E / Up-G, found an empty source list", nameof(recipe));
                if (spec.Stage == "upg")
                    foreach (var type in Enum.GetValues<TaskType>())
                        if (sources.All(s => s.Type != type))
                            throw new ArgumentException($"intern: 'tasks' expected at least one {type.ToString().ToLowerInvariant()} source for Up-G's {type} branch, found none", nameof(recipe));
            }
            else if (recipe.Tasks.Any(t => t.Source != "captions"))
            {
                throw new ArgumentException($"intern: an upa recipe's 'tasks' expected the \"captions\" source only, found {string.Join(", ", recipe.Tasks.Select(t => $"\"{t.Source}\""))}", nameof(recipe));
            }
            var settings = new InternSettings
            {
                Backbone = new MetaNetOptions { StemChannels = recipe.Model.Width, Stages = stages },
                Size = recipe.Size,
                Batch = recipe.Batch,
                DetectionBatch = recipe.Tasks.FirstOrDefault(t => t.Head == "detection")?.Batch ?? Math.Max(1, recipe.Batch / 3),
                HeadWidth = recipe.Model.HeadWidth,
                UpASteps = spec.Stage == "upa" ? recipe.Steps : spec.UpaSteps,
                UpALSteps = spec.UpalSteps,
                ExpertSteps = spec.Stage == "upe" ? recipe.Steps : spec.ExpertSteps,
                GeneralistSteps = recipe.Steps,
                Devices = recipe.Devices,
                LearningRate = recipe.Optimizer.Lr,
                WeightDecay = recipe.Optimizer.WeightDecay,
                Warmup = recipe.Schedule.Warmup,
                TextWidth = spec.TextWidth,
                ContextLength = spec.ContextLength,
                QueueSize = spec.QueueSize,
                SpikeRatio = spec.SpikeRatio,
                Seed = recipe.Seed,
            };
            settings.Validate();
            UpAmateur.CheckContext(settings);
            return (settings, sources, spec);
        }

        /// <summary>Trains the recipe's stages, writes the outputs and returns the final metrics.</summary>
        public static Dictionary<string, object> Run(Recipe recipe, string outputFolder, Action<string>? log)
        {
            var (settings, sources, spec) = Read(recipe);
            var clock = Stopwatch.StartNew();
            var metrics = new Dictionary<string, object>(StringComparer.Ordinal) { ["stage"] = spec.Stage };
            var curves = new List<PlotSeries>();
            void Curve(string name, IEnumerable<LossPoint> points) => curves.Add(new PlotSeries(name, points.Select(p => ((double)p.Step, p.Loss)).ToList()));

            var upA = new UpAmateur(settings);
            var upACurve = upA.Run(settings.UpASteps, log);
            Curve("up-a-g", upACurve.Select(s => new LossPoint(s.Step, s.Loss)));
            Curve("up-a-l", new UpLocal(upA.Model.Image, settings).Run(settings.UpALSteps, log));
            metrics["upa/loss"] = Math.Round(upACurve[^1].Loss, 4);
            metrics["upa/temperature"] = Math.Round(upACurve[^1].Temperature, 4);
            metrics["upa/spike_triggers"] = upA.Guard.Events.Count;
            Nn.Module final = upA.Model.Image;
            IInternBackbone finalBackbone = new ExpertTrunk(upA.Model.Image, null, InternTasks.Stream(settings.Seed, 2));
            if (spec.Stage != "upa")
            {
                var experts = new ExpertTrunk?[3];
                var models = new MultiTaskModel?[3];
                foreach (var type in sources.Select(s => s.Type).Distinct())
                {
                    var (trunk, model, curve) = InternStages.TrainExpert(type, upA.Model.Image, sources, settings, log);
                    experts[(int)type] = trunk;
                    models[(int)type] = model;
                    Curve($"up-e ({type.ToString().ToLowerInvariant()})", curve);
                    foreach (var (key, value) in SourceMetrics(model, recipe.EvalBatches)) metrics[$"up-e/{key}"] = value;
                    final = trunk;
                    finalBackbone = trunk;
                }
                if (spec.Stage == "upg")
                {
                    var (generalist, model, curve) = InternStages.TrainGeneralist(experts!, models!, sources, settings, spec.Ktm, log);
                    Curve(spec.Ktm ? "up-g" : "up-g (no KTM)", curve);
                    foreach (var (key, value) in SourceMetrics(model, recipe.EvalBatches)) metrics[$"up-g/{key}"] = value;
                    final = generalist;
                    finalBackbone = generalist;
                }
            }
            if (spec.DownstreamFraction is double fraction)
            {
                var downstream = new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 300, 100, 30, 16, 96);
                var scores = DownstreamA.Evaluate(finalBackbone, downstream, settings.Size, fraction, settings.Seed, log);
                metrics["down-a/cls_avg"] = Math.Round(scores.ClassificationAverage, 2);
                metrics["down-a/det_ap50"] = Math.Round(scores.DetectionAp50, 2);
                metrics["down-a/seg_miou"] = Math.Round(scores.SegmentationMiou, 2);
            }
            metrics["backbone_parameters"] = final.ParameterCount();
            metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            Directory.CreateDirectory(outputFolder);
            WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), final);
            Figures.SaveCharts(Path.Combine(outputFolder, "loss.svg"), [new ChartPanel($"{recipe.Name}: stage losses", "step", "loss", curves, LogY: true)]);
            AtomicFile.WriteAllText(Path.Combine(outputFolder, "metrics.json"), JsonSerializer.Serialize(metrics) + Environment.NewLine);
            return metrics;
        }

        private static IEnumerable<(string Key, double Value)> SourceMetrics(MultiTaskModel model, int evalBatches)
        {
            if (evalBatches <= 0) yield break;
            var evaluator = new MultiTaskTrainer(model, new Optim.Sgd(model.Parameters(), 0f), null, new TrainerOptions(EvalBatches: evalBatches));
            foreach (var (key, value) in evaluator.Evaluate().OrderBy(kv => kv.Key, StringComparer.Ordinal)) yield return (key, Math.Round(value, 4));
        }
    }
}
