using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Nn.Text;
using Tessera.Models.Optim;
using Tessera.Models.Systems.Eva;
using Tessera.Models.Systems.HvpMtl;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Benchmarks;

/// <summary>
/// The models and training steps behind the train_step_* benches of the systems' models, each
/// the same computation as its PyTorch twin in tools/bench/torch_models.py (same layers, shapes,
/// parameter count and optimiser). Inputs are fixed tensors (random images, closed-formula tokens
/// and masks that the Python side rebuilds), so a step times the model, not data loading.
/// </summary>
public static class TrainStepModels
{
    /// <summary>Swin-lite: 64×64 images, patch 4, dims 48/96/192, depths 2/2/4, heads 2/4/8, window 4, 10 classes, batch 32, AdamW.</summary>
    public const string Swin = "train_step_swin_lite_p4_d48_w4_32x3x64x64";

    /// <summary>The bidirectional text tower (width 64, 2 blocks, 4 heads) with an MLM head over the caption vocabulary, batch 32 × 32 tokens, AdamW.</summary>
    public const string TextMlm = "train_step_text_mlm_w64_L2_32x32";

    /// <summary>EVA's student at the system's shape (32-px images, patch 4, width 48, 3 blocks, 3 heads, drop path 0.1) regressing fixed 32-wide teacher features under a 40% mask, batch 48.</summary>
    public const string EvaStudentStep = "train_step_eva_student_w48_L3_48x3x32x32";

    /// <summary>HVP-MTL's pre-training step at the default settings (ViT width 48, 3 blocks; Query2Label, SwAV, SimMIM and momentum distillation), batch 32 of two 32-px views.</summary>
    public const string Hvp = "train_step_hvp_mtl_w48_L3_32x3x32x32";

    /// <summary>
    /// Warm-up seconds of these steps (after the two warm-up runs; <see cref="BenchCase.WarmupSeconds"/>):
    /// enough for the JIT to reach optimised code of every op's glue. torch_bench.py warms its twins as long.
    /// </summary>
    public const double WarmupSeconds = 2.0;

    /// <summary>Images (or text rows) per step of each bench.</summary>
    public static int BatchOf(string name) => name switch
    {
        Swin => 32,
        TextMlm => 32,
        EvaStudentStep => 48,
        Hvp => 32,
        _ => throw new ArgumentException($"TrainStepModels: expected one of {Swin}, {TextMlm}, {EvaStudentStep}, {Hvp}, found '{name}'", nameof(name)),
    };

    /// <summary>The trained model of a bench (what its optimiser updates), built as the bench builds it.</summary>
    public static Module Build(string name) => name switch
    {
        Swin => BuildSwin(new Generator(10)),
        TextMlm => BuildText(new Generator(11)).Model,
        EvaStudentStep => BuildEvaStudent(new Generator(12)),
        Hvp => new HvpMtlPretrainer(new HvpMtlSettings()).Model,
        _ => throw new ArgumentException($"TrainStepModels: expected one of {Swin}, {TextMlm}, {EvaStudentStep}, {Hvp}, found '{name}'", nameof(name)),
    };

    /// <summary>Trainable parameters (elements) of a bench's model; the PyTorch twin prints its own with torch_bench.py --params.</summary>
    public static long ParameterCount(string name) => Build(name).Parameters().Sum(p => (long)p.Numel);

    private static SwinTransformer BuildSwin(Generator generator) =>
        new(patchSize: 4, inChannels: 3, embedDim: 48, depths: [2, 2, 4], numHeads: [2, 4, 8], windowSize: 4, numClasses: 10, generator: generator);

    private static (Sequential Model, TextTransformer Text, Linear Head) BuildText(Generator generator)
    {
        var text = new TextTransformer(CaptionVocabulary.Count, contextLength: 32, width: 64, depth: 2, heads: 4, causal: false, generator: generator);
        var head = new Linear(64, CaptionVocabulary.Count, generator: generator);
        return (new Sequential(text, head), text, head);
    }

    private static EvaStudent BuildEvaStudent(Generator generator) => new(32, 4, 48, 3, 3, 32, 0.1f, generator);

    internal static Action SwinStep()
    {
        var generator = new Generator(10);
        var model = BuildSwin(generator);
        var images = Tensor.Randn([32, 3, 64, 64], generator);
        var labels = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => (long)(i * 7 % 10)).ToArray(), 32);
        var optimizer = new AdamW(model.Parameters(), 1e-3f, weightDecay: 0.05f);
        return LossStep(model, optimizer, () => F.CrossEntropy(model.Forward(images), labels));
    }

    internal static Action TextStep()
    {
        var (model, text, head) = BuildText(new Generator(11));
        var tokens = BenchTokens(32, 32, CaptionVocabulary.Count);
        var targets = MlmTargets(tokens, 32, 32);
        var tokenTensor = Tensor.FromArray(tokens, 32, 32);
        var targetTensor = Tensor.FromArray(targets, 32 * 32);
        var optimizer = new AdamW(model.Parameters(), 1e-3f, weightDecay: 0.05f);
        return LossStep(model, optimizer, () =>
            F.CrossEntropy(head.Forward(text.ForwardTokens(tokenTensor)).Reshape(32 * 32, CaptionVocabulary.Count), targetTensor, ignoreIndex: TokenMasking.Ignore));
    }

    internal static Action EvaStep()
    {
        var generator = new Generator(12);
        var student = BuildEvaStudent(generator);
        var images = Tensor.Randn([48, 3, 32, 32], generator);
        var teacherFeatures = Tensor.Randn([48, 64, 32], generator); // a frozen teacher's patch features: fixed, no gradient
        var mask = FixedMask(48, 64, 0.4f);
        var (optimizer, _) = EvaStages.CreateOptimizer(EvaStages.AllParameters(student), 1.5e-3f, 0.98f, 0.05f, 1000, 10);
        return LossStep(student, optimizer, () => student.Loss(images, teacherFeatures, mask));
    }

    internal static Action HvpStep()
    {
        var pretrainer = new HvpMtlPretrainer(new HvpMtlSettings());
        var generator = new Generator(13);
        int batch = pretrainer.Settings.Batch, size = pretrainer.Settings.ImageSize;
        var tags = new float[batch * ShapeSdf.Count];
        for (int i = 0; i < tags.Length; i++) tags[i] = i * 5 % 7 < 2 ? 1f : 0f; // ~2 of 7 tags on, a closed formula the twin repeats
        var hvpBatch = new HvpBatch
        {
            View1 = Tensor.Randn([batch, 3, size, size], generator),
            View2 = Tensor.Randn([batch, 3, size, size], generator),
            Tags = Tensor.FromArray(tags, batch, ShapeSdf.Count),
            CleanTags = Tensor.FromArray(tags, batch, ShapeSdf.Count),
        };
        return () => pretrainer.Step(hvpBatch); // the trainer's own step: four losses, backward, AdamW, scheduler, teacher EMA
    }

    private static Action LossStep(Module model, Optimizer optimizer, Func<Tensor> loss)
    {
        model.Train();
        return () =>
        {
            using var scope = new TensorScope();
            optimizer.ZeroGrad();
            AutogradEngine.Backward(loss(), freeActivations: true);
            optimizer.Step();
        };
    }

    /// <summary>
    /// [batch, tokens] 0/1 floats with round(ratio·tokens) scattered ones per row: (37·i + 11·b) mod
    /// tokens visits every residue once when 37 is prime to the token count. torch_models.fixed_mask is the same formula.
    /// </summary>
    public static Tensor FixedMask(int batch, int tokens, float ratio)
    {
        int count = (int)Math.Round(ratio * tokens);
        var data = new float[batch * tokens];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < tokens; i++)
                data[b * tokens + i] = (37 * i + 11 * b) % tokens < count ? 1f : 0f;
        return Tensor.FromArray(data, batch, tokens);
    }

    /// <summary>Caption-like rows: Begin, 12 + b mod 17 words in [4, vocabulary), End, then Pad (torch_models.bench_tokens).</summary>
    public static long[] BenchTokens(int batch, int length, int vocabulary)
    {
        var tokens = new long[batch * length]; // Pad = 0 everywhere not written
        for (int b = 0; b < batch; b++)
        {
            int words = Math.Min(length - 2, 12 + b % 17), at = b * length;
            tokens[at++] = CaptionVocabulary.Begin;
            for (int i = 0; i < words; i++) tokens[at++] = 4 + (b * 31 + i * 7) % (vocabulary - 4);
            tokens[at] = CaptionVocabulary.End;
        }
        return tokens;
    }

    /// <summary>MLM targets: the word itself at every 7th position (by (i + b) mod 7) that holds a word, −100 elsewhere (torch_models.mlm_targets).</summary>
    public static long[] MlmTargets(long[] tokens, int batch, int length)
    {
        var targets = new long[tokens.Length];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < length; i++)
            {
                long token = tokens[b * length + i];
                targets[b * length + i] = token >= 4 && (i + b) % 7 == 0 ? token : TokenMasking.Ignore;
            }
        return targets;
    }
}
