using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Systems.HvpMtl;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Recipes
{
    public sealed partial class Recipe
    {
        /// <summary>HVP-MTL settings (recipes/hvp-mtl.json): present only in HVP-MTL recipes, which <c>tessera train</c> runs through <see cref="HvpMtlTraining"/>.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public HvpSpec? Hvp { get; set; }
    }

    /// <summary>The four loss weights α1..α4 of Eq. 7 (0 switches a loss off).</summary>
    public sealed class HvpWeightsSpec
    {
        public float Multilabel { get; set; } = 0.001f;
        public float Contrastive { get; set; } = 0.02f;
        public float Mim { get; set; } = 1f;
        public float Momentum { get; set; } = 10f;
    }

    /// <summary>The "hvp" section of a recipe; see <see cref="HvpMtlSettings"/> for each field.</summary>
    public sealed class HvpSpec
    {
        public HvpWeightsSpec Weights { get; set; } = new();
        public string MultilabelLoss { get; set; } = "weighted-asl";
        public float TagNoise { get; set; } = 0.15f;
        public int PatchSize { get; set; } = 4;
        public int Heads { get; set; } = 4;
        public int DecoderLayers { get; set; } = 1;
        public int Prototypes { get; set; } = 24;
        public int Projection { get; set; } = 32;
        public float SwavTemperature { get; set; } = 0.1f;
        public float SinkhornEpsilon { get; set; } = 0.05f;
        public int SinkhornIterations { get; set; } = 3;
        public float SinkhornClamp { get; set; } = 10f;
        public float MaskRatio { get; set; } = 0.6f;
        public int MaskBlock { get; set; } = 8;
        public float Momentum { get; set; } = 0.995f;
        public float DistillTemperature { get; set; } = 0.1f;
        public float CropScale { get; set; } = 0.5f;
        public float Rotation { get; set; } = 15f;
        public float ColorJitter { get; set; } = 0.4f;
    }
}

namespace Tessera.Models.Systems.HvpMtl
{
    using Tessera.Models.Recipes;

    /// <summary>
    /// <c>tessera train hvp-mtl</c>: one HVP-MTL pre-training from a recipe. Writes, into the
    /// output folder and only after every setting has been checked: metrics.json (final losses,
    /// mAP of the multi-label head against clean and noisy test tags), model.safetensors (the
    /// student encoder: backbone + Query2Label), loss.svg (the four loss curves) and
    /// reconstructions.png (SimMIM inputs, masks and outputs).
    /// </summary>
    public static class HvpMtlTraining
    {
        /// <summary>True for a recipe with model type "hvp-mtl".</summary>
        public static bool Handles(Recipe recipe) => recipe?.Model.Type == "hvp-mtl";

        /// <summary>The recipe's settings, checked (an ArgumentException naming the recipe field on bad input).</summary>
        public static HvpMtlSettings Read(Recipe recipe)
        {
            ArgumentNullException.ThrowIfNull(recipe);
            if (!Handles(recipe))
                throw new ArgumentException($"hvp-mtl: 'model.type' expected \"hvp-mtl\", found \"{recipe.Model.Type}\"", nameof(recipe));
            if (recipe.Tasks.Count != 1)
                throw new ArgumentException($"hvp-mtl: 'tasks' expected exactly one task (the multi-label pre-training source), found {recipe.Tasks.Count}", "tasks");
            if (recipe.Devices != 1)
                throw new ArgumentException($"hvp-mtl: 'devices' expected 1, found {recipe.Devices}", "devices");
            if (recipe.Optimizer.Type != "adamw")
                throw new ArgumentException($"hvp-mtl: 'optimizer.type' expected \"adamw\" (the paper's optimiser), found \"{recipe.Optimizer.Type}\"", "optimizer.type");
            if (recipe.Schedule.Type != "cosine")
                throw new ArgumentException($"hvp-mtl: 'schedule.type' expected \"cosine\" (warm-up + cosine, the paper's schedule), found \"{recipe.Schedule.Type}\"", "schedule.type");
            var spec = recipe.Hvp ?? new HvpSpec();
            var task = recipe.Tasks[0];
            var settings = new HvpMtlSettings
            {
                Source = task.Source,
                TagNoise = spec.TagNoise,
                ImageSize = task.Size ?? recipe.Size,
                PatchSize = spec.PatchSize,
                EmbedDim = recipe.Model.Width,
                Depth = recipe.Model.Depth,
                Heads = spec.Heads,
                DecoderDim = recipe.Model.HeadWidth,
                DecoderLayers = spec.DecoderLayers,
                MultiLabelLoss = spec.MultilabelLoss,
                Prototypes = spec.Prototypes,
                Projection = spec.Projection,
                SwavTemperature = spec.SwavTemperature,
                SinkhornEpsilon = spec.SinkhornEpsilon,
                SinkhornIterations = spec.SinkhornIterations,
                SinkhornClamp = spec.SinkhornClamp,
                MaskRatio = spec.MaskRatio,
                MaskBlock = spec.MaskBlock,
                Momentum = spec.Momentum,
                DistillTemperature = spec.DistillTemperature,
                MultiLabelWeight = spec.Weights.Multilabel,
                ContrastiveWeight = spec.Weights.Contrastive,
                MimWeight = spec.Weights.Mim,
                MomentumWeight = spec.Weights.Momentum,
                Steps = recipe.Steps,
                Batch = task.Batch ?? recipe.Batch,
                LearningRate = recipe.Optimizer.Lr,
                WeightDecay = recipe.Optimizer.WeightDecay,
                Warmup = recipe.Schedule.Warmup,
                CropScale = spec.CropScale,
                Rotation = spec.Rotation,
                ColorJitter = spec.ColorJitter,
                Seed = recipe.Seed,
            };
            settings.Validate();
            return settings;
        }

        /// <summary>Trains the recipe and writes the outputs; returns the final metrics.</summary>
        public static Dictionary<string, object> Run(Recipe recipe, string outputFolder, Action<string>? log)
        {
            var settings = Read(recipe);
            var clock = Stopwatch.StartNew();
            var trainer = new HvpMtlPretrainer(settings);
            var curve = trainer.Run(log);
            Directory.CreateDirectory(outputFolder);
            var metrics = new Dictionary<string, object>(StringComparer.Ordinal) { ["steps"] = settings.Steps };
            var last = curve.Skip(Math.Max(0, curve.Count - Math.Max(1, curve.Count / 10))).ToList();
            void Final(string name, Func<HvpLosses, double> value)
            {
                double mean = last.Average(value);
                if (double.IsFinite(mean)) metrics["loss/" + name] = Math.Round(mean, 5);
            }
            Final("multilabel", l => l.MultiLabel);
            Final("contrastive", l => l.Contrastive);
            Final("mim", l => l.Mim);
            Final("momentum", l => l.Momentum);
            Final("total", l => l.Total);
            if (settings.UsesMultiLabel)
            {
                var (clean, noisy) = HvpDownstream.MultiLabelMap(trainer.Model.Encoder, trainer.Source, settings.ImageSize, Math.Max(100, recipe.EvalBatches * 100));
                metrics["tags/mAP_clean"] = Math.Round(clean, 2);
                metrics["tags/mAP_noisy"] = Math.Round(noisy, 2);
            }
            metrics["parameters"] = trainer.Model.Encoder.Backbone.ParameterCount();
            metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            WeightsFile.Save(Path.Combine(outputFolder, "model.safetensors"), trainer.Model.Encoder);
            Figures.SaveCharts(Path.Combine(outputFolder, "loss.svg"), [HvpPlots.LossCurves($"{recipe.Name}: HVP-MTL losses (each / its maximum)", [curve])]);
            if (settings.UsesMim) HvpPlots.WriteReconstructions(Path.Combine(outputFolder, "reconstructions.png"), trainer.Model, settings, 6);
            AtomicFile.WriteAllText(Path.Combine(outputFolder, "metrics.json"), JsonSerializer.Serialize(metrics) + Environment.NewLine);
            return metrics;
        }
    }
}
