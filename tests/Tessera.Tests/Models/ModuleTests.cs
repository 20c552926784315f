using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Xunit;

namespace Tessera.Tests.Models;

public sealed class ModuleTests
{
    private static Sequential Mlp(ulong seed)
    {
        var generator = new Generator(seed);
        return new Sequential(new Linear(4, 8, generator: generator), Lambda.Relu(), new Linear(8, 3, generator: generator));
    }

    [Fact]
    public void NamedParametersFollowRegistrationOrder()
    {
        var names = Mlp(1).NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], names);
        Assert.Equal(4 * 8 + 8 + 8 * 3 + 3, Mlp(1).ParameterCount());
    }

    [Fact]
    public void StateDictRoundTripsAndReportsKeyMismatches()
    {
        var source = Mlp(1);
        var target = Mlp(2);
        var x = Tensor.Randn([5, 4], new Generator(3));
        Assert.NotEqual(source.Forward(x).ToArray(), target.Forward(x).ToArray());
        var (missing, unexpected) = target.LoadStateDict(source.StateDict());
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        Assert.Equal(source.Forward(x).ToArray(), target.Forward(x).ToArray());

        var partial = source.StateDict();
        partial.Remove("2.bias");
        partial["extra"] = Tensor.Ones(1);
        var strict = Assert.Throws<ArgumentException>(() => target.LoadStateDict(partial));
        Assert.Contains("missing [2.bias]", strict.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected [extra]", strict.Message, StringComparison.Ordinal);
        var loose = target.LoadStateDict(partial, strict: false);
        Assert.Equal(["2.bias"], loose.Missing);
        Assert.Equal(["extra"], loose.Unexpected);
    }

    [Fact]
    public void ShapeMismatchInStateDictIsAClearError()
    {
        var state = Mlp(1).StateDict();
        state["0.weight"] = Tensor.Ones(8, 5);
        var error = Assert.Throws<TensorShapeException>(() => Mlp(2).LoadStateDict(state));
        Assert.Contains("'0.weight' expected shape [8, 4], found [8, 5]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainEvalZeroGradAndDevice()
    {
        var model = Mlp(1);
        model.Eval();
        Assert.All(model.NamedModules(), m => Assert.False(m.Module.Training));
        model.Train();
        Functional.Sum(model.Forward(Tensor.Ones(2, 4))).Backward();
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));
        model.ZeroGrad();
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
        Assert.Same(model, model.To(Device.Cpu));
        Assert.Throws<TensorDeviceException>(() => model.To(Device.Parse("cuda")));
    }
}
