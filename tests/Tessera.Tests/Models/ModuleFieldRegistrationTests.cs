using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using Xunit;

namespace Tessera.Tests.Models;

/// <summary>Automatic registration of modules and parameters held in fields (issue 16 item 2).</summary>
public sealed class ModuleFieldRegistrationTests
{
    // The README's pattern: submodules in fields, no Register calls.
    private sealed class Net : Layer
    {
        private readonly Linear _fc1;
        private readonly Linear _fc2;

        public Net(Generator generator)
        {
            _fc1 = new Linear(4, 8, generator: generator);
            _fc2 = new Linear(8, 3, generator: generator);
        }

        public override Tensor Forward(Tensor input) => _fc2.Forward(Functional.Relu(_fc1.Forward(input)));
    }

    private sealed class WithListsAndParameter : Module
    {
        public WithListsAndParameter(Generator generator)
        {
            Blocks = [new Linear(2, 2, generator: generator), new Linear(2, 2, generator: generator)];
            Scale = Tensor.Ones(1).RequireGrad();
            Frozen = new Linear(2, 2, generator: generator);
            Cache = Tensor.Zeros(3); // not trainable: a constant, not registered
            Extra = [Tensor.Ones(2).RequireGrad()];
        }

        public IReadOnlyList<Linear> Blocks { get; }

        public Tensor Scale { get; }

        [Unregistered]
        public Linear Frozen { get; }

        public Tensor Cache { get; }

        public Tensor[] Extra { get; }
    }

    private sealed class Mixed : Module
    {
        private readonly Linear _explicitOne;
        private readonly Linear _shared;

        public Mixed(Generator generator)
        {
            _explicitOne = RegisterModule("first", new Linear(2, 2, generator: generator));
            _shared = _explicitOne; // the same object twice: registered once
            Late = new Linear(2, 2, generator: generator);
        }

        public Linear Late { get; }
    }

    private sealed class LooseDictionary : Module
    {
        private readonly Dictionary<string, Tensor> _weights = new() { ["a"] = Tensor.Ones(2).RequireGrad() };

        public int Count => _weights.Count;
    }

    private sealed class RegisteredDictionary : Module
    {
        private readonly Dictionary<string, Tensor> _weights = new();

        public RegisteredDictionary() => _weights["a"] = RegisterParameter("a", Tensor.Ones(2));

        public int Count => _weights.Count;
    }

    [Fact]
    public void FieldsRegisterInDeclarationOrderAndTrain()
    {
        var net = new Net(new Generator(1));
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], net.NamedParameters().Select(p => p.Name));
        Assert.Equal(4 * 8 + 8 + 8 * 3 + 3, net.ParameterCount());

        var x = Tensor.Randn([6, 4], new Generator(2));
        var optimizer = new Sgd(net.Parameters(), lr: 0.1f);
        var before = net.StateDict()["fc1.weight"].ToArray();
        Functional.Mean(net.Forward(x)).Backward();
        optimizer.Step();
        Assert.NotEqual(before, net.StateDict()["fc1.weight"].ToArray());
    }

    [Fact]
    public void ListsParametersAndOptOut()
    {
        var module = new WithListsAndParameter(new Generator(1));
        Assert.Equal(["scale", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias", "extra.0"],
            module.NamedParameters().Select(p => p.Name));
        Assert.DoesNotContain(module.NamedModules(), m => ReferenceEquals(m.Module, module.Frozen));
    }

    [Fact]
    public void ExplicitRegistrationComesFirstAndSharedObjectsRegisterOnce()
    {
        var module = new Mixed(new Generator(1));
        Assert.Equal(["first", "late"], module.NamedChildren().Select(c => c.Name));
        Assert.Equal(4, module.Parameters().Count());
    }

    [Fact]
    public void ExistingModulesKeepTheirStateDictKeys()
    {
        var resnet = Tessera.Models.Nn.Backbones.ResNet.ResNet18(10);
        var keys = resnet.StateDict().Keys.ToList();
        Assert.Equal("conv1.weight", keys[0]);
        Assert.DoesNotContain(keys, k => k.StartsWith("stages", StringComparison.Ordinal));
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Fact]
    public void TrainableTensorsThatCannotBeRegisteredAreAnErrorNotSilence()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new LooseDictionary().Parameters().ToList());
        Assert.Contains("field '_weights' holds 1 trainable tensor(s) that are not registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("[Unregistered]", error.Message, StringComparison.Ordinal);
        Assert.Single(new RegisteredDictionary().Parameters());
    }

    [Fact]
    public void FieldNamesFollowPyTorchSpelling()
    {
        Assert.Equal("fc1", Tessera.Models.Nn.ModuleFieldCatalog.FieldName("_fc1"));
        Assert.Equal("fc1", Tessera.Models.Nn.ModuleFieldCatalog.FieldName("Fc1"));
        Assert.Equal("patchEmbed", Tessera.Models.Nn.ModuleFieldCatalog.FieldName("m_PatchEmbed"));
    }
}
