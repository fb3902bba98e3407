using System.Collections.Generic;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// Rewrites a type signature taken from the woven method so it can be used inside the guard/handler types.
/// The guard is generic over the declaring type's parameters followed by the method's parameters, so a
/// method variable !!j must become the type variable !(n + j); leaving it as !!j would be invalid metadata
/// in a type context.
/// </summary>
internal sealed class GenericRemapper
{
    private readonly IList<GenericParameter> _target;
    private readonly int _typeCount;

    public GenericRemapper(IList<GenericParameter> target, int typeCount)
    {
        _target = target;
        _typeCount = typeCount;
    }

    public TypeReference Remap(TypeReference type)
    {
        switch (type)
        {
            case GenericParameter gp:
                return gp.Type == GenericParameterType.Type ? _target[gp.Position] : _target[_typeCount + gp.Position];
            case ByReferenceType b:
                return new ByReferenceType(Remap(b.ElementType));
            case PointerType p:
                return new PointerType(Remap(p.ElementType));
            case PinnedType p:
                return new PinnedType(Remap(p.ElementType));
            case SentinelType s:
                return new SentinelType(Remap(s.ElementType));
            case RequiredModifierType r:
                return new RequiredModifierType(Remap(r.ModifierType), Remap(r.ElementType));
            case OptionalModifierType o:
                return new OptionalModifierType(Remap(o.ModifierType), Remap(o.ElementType));
            case ArrayType a:
            {
                var copy = new ArrayType(Remap(a.ElementType));
                if (!a.IsVector)
                {
                    copy.Dimensions.Clear();
                    foreach (var d in a.Dimensions)
                        copy.Dimensions.Add(new ArrayDimension(d.LowerBound, d.UpperBound));
                }
                return copy;
            }
            case GenericInstanceType g:
            {
                var copy = new GenericInstanceType(g.ElementType);
                foreach (var arg in g.GenericArguments)
                    copy.GenericArguments.Add(Remap(arg));
                return copy;
            }
            case FunctionPointerType f:
            {
                var copy = new FunctionPointerType
                {
                    ReturnType = Remap(f.ReturnType),
                    CallingConvention = f.CallingConvention,
                    HasThis = f.HasThis,
                    ExplicitThis = f.ExplicitThis,
                };
                foreach (var p in f.Parameters)
                    copy.Parameters.Add(new ParameterDefinition(Remap(p.ParameterType)));
                return copy;
            }
            default:
                return type;
        }
    }

    /// <summary>Copies generic parameters (names, flags, constraints) onto a new owner, remapping constraints.</summary>
    public static void CopyGenericParameters(IGenericParameterProvider owner, IList<GenericParameter> sources, ISet<string>? usedNames = null)
    {
        var start = owner.GenericParameters.Count;
        foreach (var src in sources)
        {
            var name = src.Name;
            // Type and method parameters may share a name (class C<T> { void M<T>() }); metadata tolerates
            // it but reflection-based tooling gets confused, so make holder names unique.
            if (usedNames != null)
            {
                while (!usedNames.Add(name))
                    name += "_";
            }
            // Variance is only legal on interfaces and delegates declared as such; our holders are invariant.
            var attrs = src.Attributes & ~GenericParameterAttributes.VarianceMask;
            owner.GenericParameters.Add(new GenericParameter(name, owner) { Attributes = attrs });
        }
    }

    /// <summary>Constraints are copied after all parameters exist because they may refer to each other (T : IComparable&lt;U&gt;).</summary>
    public void CopyConstraints(IList<GenericParameter> sources, IList<GenericParameter> destinations, int offset)
    {
        for (int i = 0; i < sources.Count; i++)
        {
            if (!sources[i].HasConstraints)
                continue;
            foreach (var c in sources[i].Constraints)
                destinations[offset + i].Constraints.Add(new GenericParameterConstraint(Remap(c.ConstraintType)));
        }
    }
}
