using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Models.Nn;

namespace Tessera.Models.Objectives;

/// <summary>
/// An exponential-moving-average copy of a module, used as a teacher or target network (BYOL's
/// target, MoCo's key encoder, HVP-MTL's momentum distillation): after every student step
/// θ_teacher ← m·θ_teacher + (1 − m)·θ_student for each parameter; buffers (BatchNorm running
/// statistics) are copied. The teacher's parameters never require gradients, so a loss through
/// the teacher leaves no gradient anywhere. The two modules must have the same structure (build
/// the teacher with the same constructor arguments).
/// </summary>
public sealed class MomentumTeacher<TModule> where TModule : Module
{
    private readonly List<(Tensor Teacher, Tensor Student)> _parameters = [];
    private readonly List<(Tensor Teacher, Tensor Student)> _buffers = [];

    public MomentumTeacher(TModule student, TModule teacher)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        if (ReferenceEquals(student, teacher))
            throw new ArgumentException("MomentumTeacher: expected a separate teacher module (build a second instance), found the student itself", nameof(teacher));
        var studentParameters = student.NamedParameters().ToList();
        var teacherParameters = teacher.NamedParameters().ToList();
        if (!studentParameters.Select(p => (p.Name, Shape: Shapes.Format(p.Parameter.Shape))).SequenceEqual(teacherParameters.Select(p => (p.Name, Shape: Shapes.Format(p.Parameter.Shape)))))
            throw new ArgumentException($"MomentumTeacher: expected a teacher with the student's parameters (names and shapes); the student has {studentParameters.Count}, the teacher {teacherParameters.Count} or other shapes — build both with the same arguments", nameof(teacher));
        var studentBuffers = student.NamedBuffers().ToList();
        var teacherBuffers = teacher.NamedBuffers().ToList();
        if (!studentBuffers.Select(b => b.Name).SequenceEqual(teacherBuffers.Select(b => b.Name)))
            throw new ArgumentException("MomentumTeacher: expected a teacher with the student's buffers", nameof(teacher));
        Teacher = teacher;
        using var noGrad = GradMode.NoGrad();
        for (int i = 0; i < studentParameters.Count; i++)
        {
            var t = teacherParameters[i].Parameter;
            t.CopyFrom(studentParameters[i].Parameter.Detach());
            t.RequiresGrad = false;
            _parameters.Add((t, studentParameters[i].Parameter));
        }
        for (int i = 0; i < studentBuffers.Count; i++)
        {
            teacherBuffers[i].Buffer.CopyFrom(studentBuffers[i].Buffer);
            _buffers.Add((teacherBuffers[i].Buffer, studentBuffers[i].Buffer));
        }
    }

    /// <summary>The averaged copy (frozen: no parameter requires grad).</summary>
    public TModule Teacher { get; }

    /// <summary>One EMA step with momentum <paramref name="momentum"/> ∈ [0, 1] (1 = frozen, 0 = copy).</summary>
    public void Update(float momentum)
    {
        if (!(momentum is >= 0f and <= 1f))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"MomentumTeacher: 'momentum' expected in [0, 1], found {momentum}");
        using var noGrad = GradMode.NoGrad();
        foreach (var (teacher, student) in _parameters)
        {
            teacher.MulInPlace(momentum);
            teacher.AddInPlace(student.Detach(), alpha: 1f - momentum);
        }
        foreach (var (teacher, student) in _buffers)
            teacher.CopyFrom(student);
    }

    /// <summary>Same as <see cref="Update(float)"/>; the student is checked to be the one this teacher was built from.</summary>
    public void Update(TModule student, float momentum)
    {
        ArgumentNullException.ThrowIfNull(student);
        if (_parameters.Count > 0 && !ReferenceEquals(student.Parameters().First(), _parameters[0].Student))
            throw new ArgumentException("MomentumTeacher: 'student' is not the module this teacher was built from", nameof(student));
        Update(momentum);
    }
}
