using System;
using System.Collections.Generic;
using System.Threading;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>
    /// The one narrow door between the Hyper-V backend and WMI on one host. Four primitives (query a class, follow an
    /// association, get an instance, invoke a method); the fifth operation, waiting for a job, is built on them once
    /// (<see cref="CimJobs"/>) so that every gateway waits the same way. The real implementation
    /// (Gateway/MiCimGateway.cs, Microsoft.Management.Infrastructure) is the only code that touches MI types; the tests
    /// use an in-memory simulator of <c>root\virtualization\v2</c>.
    /// Failures of the protocol itself (unknown class or property, access denied, no such namespace, connection lost)
    /// throw <see cref="CimGatewayException"/>; a method that runs but fails answers a non-zero
    /// <see cref="CimMethodResult.ReturnValue"/> instead.
    /// </summary>
    public interface ICimGateway : IDisposable
    {
        /// <summary>The host this gateway talks to, as written in object paths (e.g. "HV01").</summary>
        string ComputerName { get; }

        /// <summary>Runs a WQL query (<c>SELECT * FROM Class [WHERE ...]</c>) in <paramref name="namespace"/>.</summary>
        IReadOnlyList<CimObject> Query(string @namespace, string wql, CancellationToken cancellationToken);

        /// <summary>
        /// The instances associated with <paramref name="source"/> through <paramref name="associationClass"/> (always
        /// named: unnamed traversals are slow and return mixed classes), optionally filtered by result class and roles.
        /// </summary>
        IReadOnlyList<CimObject> GetAssociated(CimReference source, string associationClass, string? resultClass,
            string? sourceRole, string? resultRole, CancellationToken cancellationToken);

        /// <summary>The current instance behind <paramref name="reference"/>, or null when it does not exist (NotFound).</summary>
        CimObject? GetInstance(CimReference reference, CancellationToken cancellationToken);

        /// <summary>
        /// Invokes <paramref name="method"/> on the instance (or, for static methods, the class) named by
        /// <paramref name="target"/>. Embedded-instance parameters are passed as CIM-XML strings
        /// (<see cref="CimXml.Write(CimObject)"/>), references as <see cref="CimReference"/>.
        /// </summary>
        CimMethodResult InvokeMethod(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters,
            CancellationToken cancellationToken);
    }

    /// <summary>
    /// DMTF CIM status codes (DSP0200), the values Microsoft.Management.Infrastructure reports as NativeErrorCode.
    /// </summary>
    public enum CimErrorCode
    {
        Ok = 0,
        Failed = 1,
        AccessDenied = 2,
        InvalidNamespace = 3,
        InvalidParameter = 4,
        InvalidClass = 5,
        NotFound = 6,
        NotSupported = 7,
        ClassHasChildren = 8,
        ClassHasInstances = 9,
        InvalidSuperClass = 10,
        AlreadyExists = 11,
        NoSuchProperty = 12,
        TypeMismatch = 13,
        QueryLanguageNotSupported = 14,
        InvalidQuery = 15,
        MethodNotAvailable = 16,
        MethodNotFound = 17,
        NamespaceNotEmpty = 20,
        InvalidEnumerationContext = 21,
        InvalidOperationTimeout = 22,
        PullHasBeenAbandoned = 23,
        PullCannotBeAbandoned = 24,
        FilteredEnumerationNotSupported = 25,
        ContinuationOnErrorNotSupported = 26,
        ServerLimitsExceeded = 27,
        ServerIsShuttingDown = 28,
        /// <summary>Not a CIM status: the host could not be reached (WinRM/DCOM transport failure).</summary>
        ConnectionFailed = 1000,
    }

    /// <summary>A failure of a CIM operation itself (as opposed to a method's non-zero return value).</summary>
    public sealed class CimGatewayException : Exception
    {
        public CimGatewayException(CimErrorCode code, string computerName, string operation, string message, Exception? inner = null)
            : base(message, inner)
        {
            Code = code;
            ComputerName = computerName;
            Operation = operation;
        }

        public CimErrorCode Code { get; }
        public string ComputerName { get; }
        /// <summary>What was being done, e.g. "Query Msvm_ComputerSystem" or "Invoke DefineSystem".</summary>
        public string Operation { get; }
    }
}
