using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Tests.Goldens;
using Xunit;
using Xunit.Sdk;

namespace Tessera.Tests.Nn;

/// <summary>
/// nn modules against PyTorch (tools/goldens/gen_nn.py): the golden's weights are loaded into our
/// module through LoadStateDict, then outputs, updated buffers and the gradients of the inputs and
/// of every weight are compared.
/// </summary>
public sealed class NnGoldenTests
{
    private const string Family = "nn";

    // Built once: 11.7 M parameters take seconds to initialise in a Debug build.
    private static readonly Lazy<ResNet> SharedResNet18 = new(() => ResNet.ResNet18());

    public static TheoryData<string> MhaCases => GoldenFile.CaseNames(Family, "multihead_attention");
    public static TheoryData<string> BatchNormCases => GoldenFile.CaseNames(Family, "batch_norm2d");
    public static TheoryData<string> SwinCases => GoldenFile.CaseNames(Family, "swin_block");
    public static TheoryData<string> VitCases => GoldenFile.CaseNames(Family, "vit");
    public static TheoryData<string> BasicBlockCases => GoldenFile.CaseNames(Family, "basic_block");

    [Theory]
    [MemberData(nameof(MhaCases))]
    public void MultiheadAttentionMatchesTorch(string name)
    {
        var golden = GoldenFile.Get(Family, name);
        var module = new MultiheadAttention(golden.Int("embed_dim"), golden.Int("num_heads"));
        RunModule(golden, module, inputs =>
        {
            var query = inputs["query"];
            var y = golden.Bool("self")
                ? module.SelfAttention(query, inputs.GetValueOrDefault("key_padding_mask"), inputs.GetValueOrDefault("attn_mask"))
                : module.Forward(query, inputs["key"], inputs["value"], inputs.GetValueOrDefault("key_padding_mask"), inputs.GetValueOrDefault("attn_mask"));
            return new() { ["y"] = y };
        }, Tolerance.Default, Tolerance.Loose);
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNorm2dTrainEvalAndRunningStatsMatchTorch(string name)
    {
        var golden = GoldenFile.Get(Family, name);
        float? momentum = golden.HasArg("momentum") ? golden.Float("momentum") : null;
        var module = new BatchNorm2d(golden.Int("channels"), momentum: momentum);
        RunModule(golden, module, inputs =>
        {
            module.Train();
            var y1 = module.Forward(inputs["x1"]);
            var y2 = module.Forward(inputs["x2"]);
            module.Eval();
            var y3 = module.Forward(inputs["x3"]);
            return new()
            {
                ["y1"] = y1, ["y2"] = y2, ["y3"] = y3,
                ["running_mean"] = module.RunningMean!.Clone(), ["running_var"] = module.RunningVar!.Clone(),
                ["num_batches_tracked"] = module.NumBatchesTracked!.Clone(),
            };
        }, Tolerance.Default, Tolerance.Loose);
    }

    [Theory]
    [MemberData(nameof(SwinCases))]
    public void SwinBlockMatchesReferenceImplementation(string name)
    {
        var golden = GoldenFile.Get(Family, name);
        var module = new SwinBlock(golden.Int("dim"), golden.Int("num_heads"), golden.Int("window_size"), golden.Int("shift_size"), golden.Float("mlp_ratio"));
        RunModule(golden, module, inputs => new()
        {
            ["y"] = module.Forward(inputs["x"]),
            ["relative_position_index"] = module.Attn.RelativePositionIndex,
        }, Tolerance.Loose, Tolerance.Loose);
    }

    [Theory]
    [MemberData(nameof(BasicBlockCases))]
    public void ResNetBasicBlockMatchesTorchvision(string name)
    {
        var golden = GoldenFile.Get(Family, name);
        var module = new BasicBlock(golden.Int("in_channels"), golden.Int("planes"), golden.Int("stride"));
        module.Train(golden.Bool("training"));
        RunModule(golden, module, inputs =>
        {
            var outputs = new Dictionary<string, Tensor> { ["y"] = module.Forward(inputs["x"]) };
            if (golden.Bool("training"))
                foreach (var (key, buffer) in module.NamedBuffers())
                    if (!key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                        outputs[key] = buffer.Clone();
            return outputs;
        }, Tolerance.Loose, Tolerance.Loose);
    }

    [Fact]
    public void BottleneckMatchesTorchvision()
    {
        var golden = GoldenFile.Get(Family, "bottleneck_downsample_train");
        var module = new Bottleneck(golden.Int("in_channels"), golden.Int("planes"), golden.Int("stride"));
        RunModule(golden, module, inputs =>
        {
            var outputs = new Dictionary<string, Tensor> { ["y"] = module.Forward(inputs["x"]) };
            foreach (var (key, buffer) in module.NamedBuffers())
                if (!key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                    outputs[key] = buffer.Clone();
            return outputs;
        }, Tolerance.Loose, Tolerance.Loose);
    }

    [Fact]
    public void FpnMatchesTorchvisionFeaturePyramidNetwork()
    {
        var golden = GoldenFile.Get(Family, "fpn_three_levels");
        var module = new Fpn(golden.Ints("in_channels"), golden.Int("out_channels"));
        RunModule(golden, module, inputs =>
        {
            var outputs = module.Forward([inputs["f0"], inputs["f1"], inputs["f2"]]);
            return Enumerable.Range(0, outputs.Count).ToDictionary(i => $"y{i}", i => outputs[i]);
        }, Tolerance.Default, Tolerance.Loose);
    }

    [Fact]
    public void AsppMatchesTorchvisionInEvaluation()
    {
        var golden = GoldenFile.Get(Family, "aspp_eval");
        var module = new Tessera.Models.Nn.Heads.Aspp(golden.Int("in_channels"), golden.Ints("rates"), golden.Int("out_channels"));
        module.Eval();
        RunModule(golden, module, inputs => new() { ["y"] = module.Forward(inputs["x"]) }, Tolerance.Loose, Tolerance.Loose);
    }

    [Theory]
    [MemberData(nameof(VitCases))]
    public void VisionTransformerMatchesTorchvisionEndToEnd(string name)
    {
        var golden = GoldenFile.Get(Family, name);
        var module = new VisionTransformer(golden.Int("image_size"), golden.Int("patch_size"), 3, golden.Int("embed_dim"), golden.Int("depth"),
            golden.Int("num_heads"), golden.Float("mlp_ratio"), golden.Int("num_classes"));
        RunModule(golden, module, inputs => new() { ["y"] = module.Forward(inputs["images"]) }, Tolerance.Loose, Tolerance.Loose);
    }

    [Fact]
    public void ResNet18StateDictKeysAndParameterOrderMatchTorchvision()
    {
        var reference = GoldenFile.Get(Family, "nn_reference");
        var torchKeys = reference.Args.GetProperty("resnet18_keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var model = SharedResNet18.Value;
        Assert.Equal(torchKeys.Order(StringComparer.Ordinal), model.StateDict().Keys.Order(StringComparer.Ordinal));
        // Parameters come in PyTorch's order (buffers are listed after them in our state dict).
        var torchParameters = torchKeys.Where(k => !k.Contains("running_", StringComparison.Ordinal) && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        Assert.Equal(torchParameters, model.NamedParameters().Select(p => p.Name));
        Assert.Contains("layer1.0.conv1.weight", torchKeys);
        Assert.Equal(DType.Int64, model.StateDict()["bn1.num_batches_tracked"].DType);
    }

    [Fact]
    public void ParameterCountsMatchTorchvisionConfigurations()
    {
        var reference = GoldenFile.Get(Family, "nn_reference");
        long Count(string key) => reference.Args.GetProperty(key).GetInt64();
        Assert.Equal(Count("resnet18_params"), SharedResNet18.Value.ParameterCount()); // 11,689,512
        // torchvision Bottleneck(64, 32, stride=2, downsample=conv1x1(64, 128, 2) + BatchNorm2d(128))
        Assert.Equal(Count("bottleneck_params"), new Bottleneck(64, 32, 2).ParameterCount());
        // torchvision VisionTransformer(image_size=32, patch_size=4, num_layers=3, num_heads=4, hidden_dim=64, mlp_dim=256, num_classes=10)
        var vit = new VisionTransformer(imageSize: 32, patchSize: 4, embedDim: 64, depth: 3, numHeads: 4, mlpRatio: 4f, numClasses: 10);
        Assert.Equal(Count("vit_params"), vit.ParameterCount());
        // torchvision SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2]*4, num_heads=[1, 2, 4, 8], window_size=[4, 4], num_classes=10);
        // ours adds LayerNorms norm0..norm2 on the inner feature maps (Swin for detection): 2·(32 + 64 + 128) values.
        var swin = new SwinTransformer(patchSize: 4, embedDim: 32, depths: [2, 2, 2, 2], numHeads: [1, 2, 4, 8], windowSize: 4, numClasses: 10);
        Assert.Equal(Count("swin_params") + 2 * (32 + 64 + 128), swin.ParameterCount());
    }

    /// <summary>
    /// Loads the golden's state-dict inputs into <paramref name="module"/>, runs
    /// <paramref name="forward"/> on the remaining inputs, compares every output, backpropagates
    /// sum(out · gout) and compares the gradients of inputs and module parameters.
    /// </summary>
    private static void RunModule(GoldenCase golden, Module module, Func<IReadOnlyDictionary<string, Tensor>, Dictionary<string, Tensor>> forward, Tolerance forwardTolerance, Tolerance backwardTolerance)
    {
        var own = module.StateDict();
        var state = new Dictionary<string, Tensor>();
        var inputs = new Dictionary<string, Tensor>();
        foreach (var key in golden.Keys("in."))
        {
            var t = golden.Tensor("in." + key);
            if (own.ContainsKey(key))
            {
                state[key] = t;
                continue;
            }
            if (golden.GradNames.Contains(key)) t.RequiresGrad = true;
            inputs[key] = t;
        }
        var (missing, unexpected) = module.LoadStateDict(state, strict: false);
        Assert.Empty(unexpected);
        var parameters = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        // Every parameter comes from the golden under PyTorch's name; only untouched buffers may be missing.
        Assert.DoesNotContain(missing, parameters.ContainsKey);
        module.ZeroGrad();

        var outputs = forward(inputs);
        var expectedNames = golden.Keys("out.").ToArray();
        Assert.Equal(expectedNames, outputs.Keys.Order(StringComparer.Ordinal));
        Tensor? total = null;
        foreach (var (name, output) in outputs)
        {
            GoldenRunner.AssertClose(output, golden.Tensor("out." + name), forwardTolerance, $"{golden} out.{name}");
            if (!golden.Has("gout." + name)) continue;
            var term = Functional.Sum(output * golden.Tensor("gout." + name));
            total = total is null ? term : total + term;
        }
        if (golden.GradNames.Count == 0) return;
        if (total is null) throw new XunitException($"{golden}: gradients recorded but no output has an upstream gradient");
        total.Backward();
        foreach (var name in golden.GradNames)
        {
            var source = parameters.TryGetValue(name, out var parameter) ? parameter : inputs[name];
            var grad = source.Grad ?? Tensor.ZerosLike(source);
            GoldenRunner.AssertClose(grad, golden.Tensor("grad." + name), backwardTolerance, $"{golden} grad.{name}");
        }
    }
}
