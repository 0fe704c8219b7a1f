using System;

namespace VirtualNetworks
{
    /// <summary>
    /// The one exception type the engine and backends throw for expected faults. The cmdlet layer turns it into an
    /// ErrorRecord: <see cref="ErrorId"/> becomes the FullyQualifiedErrorId prefix, <see cref="Kind"/> the category,
    /// <see cref="TargetName"/> the target object.
    /// </summary>
    [Serializable]
    public class VirtualNetworksException : Exception
    {
        public VirtualNetworksException(string errorId, ErrorKind kind, string? targetName, string message, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
            Kind = kind;
            TargetName = targetName;
        }

        /// <summary>Stable id from <see cref="ErrorIds"/>.</summary>
        public string ErrorId { get; }
        public ErrorKind Kind { get; }
        /// <summary>The offending item (router, link, host, field path, file), if any.</summary>
        public string? TargetName { get; }
        /// <summary>Optional hint on how to fix the problem (RecommendedAction).</summary>
        public string? RecommendedAction { get; set; }
    }

    /// <summary>One problem found while reading or validating a topology.</summary>
    public sealed class TopologyError
    {
        public TopologyError(string errorId, ErrorKind kind, string target, string message, string? jsonPath = null, int? line = null, int? column = null)
        {
            ErrorId = errorId; Kind = kind; Target = target; Message = message; JsonPath = jsonPath; Line = line; Column = column;
        }

        public string ErrorId { get; }
        public ErrorKind Kind { get; }
        /// <summary>The offending item: a router, link or host name, or a JSON path.</summary>
        public string Target { get; }
        public string Message { get; }
        public string? JsonPath { get; }
        public int? Line { get; }
        public int? Column { get; }
        /// <summary>Optional hint on how to fix the problem (RecommendedAction of the error record).</summary>
        public string? RecommendedAction { get; set; }

        public VirtualNetworksException ToException() =>
            new VirtualNetworksException(ErrorId, Kind, Target, Message) { RecommendedAction = RecommendedAction };

        public override string ToString() => ErrorId + ": " + Message;
    }

    /// <summary>Thrown when a topology has one or more errors; nothing was changed.</summary>
    [Serializable]
    public sealed class TopologyValidationException : VirtualNetworksException
    {
        public TopologyValidationException(System.Collections.Generic.IReadOnlyList<TopologyError> errors)
            : base(errors[0].ErrorId, errors[0].Kind, errors[0].Target, errors[0].Message)
        {
            Errors = errors;
            RecommendedAction = errors[0].RecommendedAction;
        }

        public System.Collections.Generic.IReadOnlyList<TopologyError> Errors { get; }
    }
}
