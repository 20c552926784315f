namespace Tessera.Engine.Compiler;

/// <summary>
/// A kernel used something the compiler cannot translate. The message names the kernel, the method
/// and IL offset where it happened, the opcode, and what to write instead.
/// </summary>
public sealed class KernelCompileException : Exception
{
    public KernelCompileException() { }

    public KernelCompileException(string message) : base(message) { }

    public KernelCompileException(string message, Exception inner) : base(message, inner) { }

    public KernelCompileException(string kernel, string method, int ilOffset, string opCode, string problem, string advice)
        : base($"kernel '{kernel}': {problem} (in {method} at IL_{ilOffset:x4}, opcode '{opCode}'). {advice}")
    {
        Kernel = kernel;
        Method = method;
        ILOffset = ilOffset;
        OpCode = opCode;
        Advice = advice;
    }

    public string? Kernel { get; }
    public string? Method { get; }
    public int ILOffset { get; }
    public string? OpCode { get; }
    public string? Advice { get; }
}
