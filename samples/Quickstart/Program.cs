using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using F = Tessera.Autograd.Functional;

// Data: points in the plane; class 1 inside the unit circle, class 0 outside.
var generator = new Generator(seed: 0);
(Tensor Points, Tensor Labels) Sample(int count)
{
    var points = Tensor.Randn([count, 2], generator);
    var xy = points.ToArray();
    var labels = new long[count];
    for (int i = 0; i < count; i++)
        labels[i] = xy[2 * i] * xy[2 * i] + xy[2 * i + 1] * xy[2 * i + 1] < 1 ? 1 : 0;
    return (points, Tensor.FromArray(labels, count));
}
var (trainX, trainY) = Sample(2048);
var (testX, testY) = Sample(512);

var model = new Classifier(inputs: 2, hidden: 32, classes: 2, generator);
foreach (var (name, parameter) in model.NamedParameters())
    Console.WriteLine($"{name} {parameter.Shape}");           // fc1.weight [32, 2] ...

// Training: full-batch AdamW on the cross-entropy loss.
var optimizer = new AdamW(model.Parameters(), lr: 0.01f);
for (int step = 1; step <= 300; step++)
{
    using var scope = new TensorScope();                     // returns this step's tensors to the pool
    var loss = F.CrossEntropy(model.Forward(trainX), trainY);
    optimizer.ZeroGrad();
    loss.Backward();
    optimizer.Step();
    if (step % 100 == 0) Console.WriteLine($"step {step}: loss {loss.Item():F4}");
}

// Evaluation: accuracy on held-out points, without recording gradients.
double Accuracy(Classifier classifier)
{
    classifier.Eval();
    using var noGrad = GradMode.NoGrad();
    var predicted = classifier.Forward(testX).Argmax(dim: 1).ToArray<long>();
    var truth = testY.ToArray<long>();
    return predicted.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
}
Console.WriteLine($"test accuracy {Accuracy(model):P1}");

// Save and load: one call each (a safetensors file with the state dict's keys).
string path = Path.Combine(Path.GetTempPath(), "quickstart-classifier.safetensors");
model.Save(path);
var restored = new Classifier(inputs: 2, hidden: 32, classes: 2, new Generator(seed: 1));
restored.Load(path);
Console.WriteLine($"restored accuracy {Accuracy(restored):P1}");

// A model: submodules held in fields are registered automatically, as in PyTorch.
sealed class Classifier : Layer
{
    private readonly Linear _fc1;
    private readonly ReLU _relu = new();
    private readonly Linear _fc2;

    public Classifier(int inputs, int hidden, int classes, Generator generator)
    {
        _fc1 = new Linear(inputs, hidden, generator: generator);
        _fc2 = new Linear(hidden, classes, generator: generator);
    }

    public override Tensor Forward(Tensor input) => _fc2.Forward(_relu.Forward(_fc1.Forward(input)));
}
