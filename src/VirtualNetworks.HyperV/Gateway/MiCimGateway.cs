using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Security;
using System.Threading;
using Microsoft.Management.Infrastructure;
using Microsoft.Management.Infrastructure.Options;
using VirtualNetworks.HyperV.Cim;
using CimMethodParameter = VirtualNetworks.HyperV.Cim.CimMethodParameter;
using CimMethodResult = VirtualNetworks.HyperV.Cim.CimMethodResult;

namespace VirtualNetworks.HyperV.Gateway
{
    /// <summary>
    /// The real <see cref="ICimGateway"/>: Microsoft.Management.Infrastructure over one <see cref="CimSession"/>. This
    /// folder is the only place in the product that uses MI types; everything above it sees <see cref="CimObject"/> and
    /// <see cref="CimReference"/>. MI is referenced at compile time only: Windows PowerShell 5.1 and PowerShell 7 load
    /// their own copy, so this type is only ever touched when a Hyper-V host is contacted.
    /// </summary>
    /// <remarks>
    /// Sessions (docs/hyperv-remoting.md): the local machine uses <c>CimSession.Create(null)</c> (the local provider,
    /// no network). A remote host uses WS-Man (WinRM, 5985/TCP) with
    /// <see cref="PasswordAuthenticationMechanism.Negotiate"/>: Kerberos inside a domain, NTLM otherwise, never CredSSP
    /// implicitly (pitfall 20). With no credential the caller's own identity is used. A caller who needs CredSSP (a
    /// second hop) creates the session with <c>New-CimSession -Authentication CredSsp</c> and passes it with
    /// <c>-CimSession</c>; such sessions are used as they are and never closed by the module.
    /// </remarks>
    public sealed class MiCimGateway : ICimGateway
    {
        /// <summary>Option names read from <c>BackendRequest.Options</c>.</summary>
        public const string CimSessionOption = "CimSession";
        public const string CredentialOption = "Credential";
        public const string AuthenticationOption = "Authentication";

        private readonly CimSession _session;
        private readonly bool _ownsSession;

        private MiCimGateway(CimSession session, string computerName, bool ownsSession)
        {
            _session = session;
            _ownsSession = ownsSession;
            ComputerName = computerName;
        }

        public string ComputerName { get; }

        /// <summary>
        /// Connects to <paramref name="host"/> (empty = the local machine), reusing a caller's session for that host from
        /// the "CimSession" option when one matches. Throws <see cref="CimGatewayException"/> (ConnectionFailed,
        /// AccessDenied, ...) when the session cannot be created.
        /// </summary>
        public static ICimGateway Connect(string host, IDictionary<string, object?> options)
        {
            string target = string.IsNullOrWhiteSpace(host) ? "" : host.Trim();
            foreach (var supplied in Sessions(options))
            {
                if (string.Equals(supplied.ComputerName ?? "", target, StringComparison.OrdinalIgnoreCase) ||
                    (target.Length == 0 && IsLocal(supplied.ComputerName)))
                    return new MiCimGateway(supplied, NameFor(supplied.ComputerName), ownsSession: false);
            }

            try
            {
                if (target.Length == 0 || IsLocal(target))
                    return new MiCimGateway(CimSession.Create(null), Environment.MachineName, ownsSession: true);

                var wsman = new WSManSessionOptions();
                if (options.TryGetValue(CredentialOption, out var c) && c is NetworkCredential credential)
                {
                    var mechanism = PasswordAuthenticationMechanism.Negotiate;
                    if (options.TryGetValue(AuthenticationOption, out var a) && a is string name &&
                        Enum.TryParse(name, ignoreCase: true, out PasswordAuthenticationMechanism chosen))
                        mechanism = chosen;
                    wsman.AddDestinationCredentials(new CimCredential(mechanism, credential.Domain ?? "", credential.UserName, Secure(credential)));
                }
                var session = CimSession.Create(target, wsman);
                var gateway = new MiCimGateway(session, target, ownsSession: true);
                return gateway;
            }
            catch (CimException ex)
            {
                throw Translate(ex, target.Length == 0 ? Environment.MachineName : target, "Connect");
            }
        }

        private static IEnumerable<CimSession> Sessions(IDictionary<string, object?> options)
        {
            if (!options.TryGetValue(CimSessionOption, out var value) || value == null) yield break;
            if (value is CimSession one) { yield return one; yield break; }
            if (value is IEnumerable many)
                foreach (var item in many)
                    if (item is CimSession s) yield return s;
        }

        /// <summary>True when every object in <paramref name="sessions"/> is a CimSession (the cmdlets check -CimSession with it).</summary>
        public static bool AreSessions(IEnumerable<object> sessions) => sessions.All(s => s is CimSession);

        private static bool IsLocal(string? name) =>
            string.IsNullOrEmpty(name) || name == "." || string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase) ||
            string.Equals(name, Environment.MachineName, StringComparison.OrdinalIgnoreCase);

        private static string NameFor(string? computerName) => IsLocal(computerName) ? Environment.MachineName : computerName!;

        private static SecureString Secure(NetworkCredential credential)
        {
            if (credential.SecurePassword != null && credential.SecurePassword.Length > 0) return credential.SecurePassword;
            var s = new SecureString();
            foreach (char ch in credential.Password ?? "") s.AppendChar(ch);
            s.MakeReadOnly();
            return s;
        }

        // ------------------------------------------------------------------------------------------- operations

        public IReadOnlyList<CimObject> Query(string @namespace, string wql, CancellationToken cancellationToken)
        {
            var what = "Query " + wql;
            try
            {
                using var options = Options(cancellationToken);
                return _session.QueryInstances(@namespace, "WQL", wql, options).Select(i => ToObject(i, @namespace)).ToList();
            }
            catch (CimException ex)
            {
                throw Translate(ex, ComputerName, what);
            }
        }

        public IReadOnlyList<CimObject> GetAssociated(CimReference source, string associationClass, string? resultClass,
            string? sourceRole, string? resultRole, CancellationToken cancellationToken)
        {
            var what = "Associators of " + source.ClassName + " through " + associationClass;
            try
            {
                using var options = Options(cancellationToken);
                using var key = ToKeyInstance(source);
                return _session.EnumerateAssociatedInstances(source.Namespace, key, associationClass, resultClass, sourceRole, resultRole, options)
                    .Select(i => ToObject(i, source.Namespace)).ToList();
            }
            catch (CimException ex)
            {
                throw Translate(ex, ComputerName, what);
            }
        }

        public CimObject? GetInstance(CimReference reference, CancellationToken cancellationToken)
        {
            try
            {
                using var options = Options(cancellationToken);
                using var key = ToKeyInstance(reference);
                using var found = _session.GetInstance(reference.Namespace, key, options);
                return ToObject(found, reference.Namespace);
            }
            catch (CimException ex) when (ex.NativeErrorCode == NativeErrorCode.NotFound)
            {
                return null;
            }
            catch (CimException ex)
            {
                throw Translate(ex, ComputerName, "Get " + reference.ClassName);
            }
        }

        public CimMethodResult InvokeMethod(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters,
            CancellationToken cancellationToken)
        {
            var what = "Invoke " + target.ClassName + "." + method;
            var created = new List<IDisposable>();
            try
            {
                using var options = Options(cancellationToken);
                var collection = new CimMethodParametersCollection();
                foreach (var p in parameters)
                    collection.Add(Microsoft.Management.Infrastructure.CimMethodParameter.Create(p.Name, ToMiValue(p.Property, created), ToMiType(p.Property), CimFlags.In));
                var key = ToKeyInstance(target);
                created.Add(key);
                using var result = _session.InvokeMethod(target.Namespace, key, method, collection, options);
                uint returnValue = Convert.ToUInt32(result.ReturnValue?.Value ?? 0u, CultureInfo.InvariantCulture);
                var outputs = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                foreach (var o in result.OutParameters)
                    outputs[o.Name] = FromMiValue(o.Value, target.Namespace);
                return new CimMethodResult(returnValue, outputs);
            }
            catch (CimException ex)
            {
                throw Translate(ex, ComputerName, what);
            }
            finally
            {
                foreach (var d in created) d.Dispose();
            }
        }

        public void Dispose()
        {
            if (_ownsSession) _session.Dispose();
        }

        // ------------------------------------------------------------------------------------------- conversions

        private static CimOperationOptions Options(CancellationToken cancellationToken) =>
            new CimOperationOptions { CancellationToken = cancellationToken };

        private CimInstance ToKeyInstance(CimReference reference)
        {
            var instance = new CimInstance(reference.ClassName, reference.Namespace);
            foreach (var k in reference.Keys)
                instance.CimInstanceProperties.Add(Microsoft.Management.Infrastructure.CimProperty.Create(k.Key, k.Value, CimFlags.Key));
            return instance;
        }

        private CimObject ToObject(CimInstance instance, string @namespace)
        {
            var o = new CimObject(instance.CimSystemProperties.ClassName, instance.CimSystemProperties.Namespace ?? @namespace,
                instance.CimSystemProperties.ServerName ?? ComputerName);
            foreach (var p in instance.CimInstanceProperties)
            {
                var (type, isArray) = FromMiType(p.CimType);
                object? value = FromMiValue(p.Value, @namespace);
                if (type == CimDataType.Instance)
                {
                    // Embedded objects are kept as CimObject values; the backend accepts them and XML text alike.
                    o.Set(p.Name, CimDataType.Instance, isArray, value, (p.Flags & CimFlags.Key) != 0);
                    continue;
                }
                if (type == CimDataType.DateTime) value = value is Array a ? a.Cast<object>().Select(DateText).ToArray() : (value == null ? null : DateText(value));
                o.Set(p.Name, type, isArray, value, (p.Flags & CimFlags.Key) != 0);
            }
            return o;
        }

        private static string DateText(object value) => value switch
        {
            DateTime d => d.ToUniversalTime().ToString("yyyyMMddHHmmss.ffffff", CultureInfo.InvariantCulture) + "+000",
            TimeSpan t => t.Days.ToString("00000000", CultureInfo.InvariantCulture) + t.Hours.ToString("00", CultureInfo.InvariantCulture) +
                          t.Minutes.ToString("00", CultureInfo.InvariantCulture) + t.Seconds.ToString("00", CultureInfo.InvariantCulture) + ".000000:000",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        };

        private object? FromMiValue(object? value, string @namespace)
        {
            switch (value)
            {
                case null:
                    return null;
                case CimInstance instance:
                    return IsReferenceShaped(instance) ? Reference(instance, @namespace) : (object)ToObject(instance, @namespace);
                case CimInstance[] instances:
                    if (instances.All(IsReferenceShaped)) return instances.Select(i => Reference(i, @namespace)).ToArray();
                    return instances.Select(i => ToObject(i, @namespace)).ToArray();
                default:
                    return value;
            }
        }

        // An out-REF comes back as an instance carrying its keys (and sometimes more); a reference needs keys.
        private static bool IsReferenceShaped(CimInstance instance) =>
            instance.CimInstanceProperties.Any(p => (p.Flags & CimFlags.Key) != 0 && p.Value != null);

        private CimReference Reference(CimInstance instance, string @namespace) => new CimReference(
            instance.CimSystemProperties.ClassName,
            instance.CimInstanceProperties.Where(p => (p.Flags & CimFlags.Key) != 0 && p.Value != null)
                .Select(p => new KeyValuePair<string, object>(p.Name, p.Value)),
            instance.CimSystemProperties.Namespace ?? @namespace,
            instance.CimSystemProperties.ServerName ?? ComputerName);

        private object? ToMiValue(Cim.CimProperty p, List<IDisposable> created)
        {
            switch (p.Value)
            {
                case null:
                    return null;
                case CimReference r:
                    var key = ToKeyInstance(r);
                    created.Add(key);
                    return key;
                case CimReference[] refs:
                    var keys = refs.Select(ToKeyInstance).ToArray();
                    created.AddRange(keys);
                    return keys;
                case CimObject:
                case CimObject[]:
                    throw new NotSupportedException($"Parameter {p.Name}: pass embedded instances as CIM-XML text (CimXml.Write), as Hyper-V requires.");
                default:
                    return p.Value;
            }
        }

        private static CimType ToMiType(Cim.CimProperty p)
        {
            var scalar = p.Type switch
            {
                CimDataType.Boolean => CimType.Boolean,
                CimDataType.UInt8 => CimType.UInt8,
                CimDataType.SInt8 => CimType.SInt8,
                CimDataType.UInt16 => CimType.UInt16,
                CimDataType.SInt16 => CimType.SInt16,
                CimDataType.UInt32 => CimType.UInt32,
                CimDataType.SInt32 => CimType.SInt32,
                CimDataType.UInt64 => CimType.UInt64,
                CimDataType.SInt64 => CimType.SInt64,
                CimDataType.Real32 => CimType.Real32,
                CimDataType.Real64 => CimType.Real64,
                CimDataType.Char16 => CimType.Char16,
                CimDataType.DateTime => CimType.DateTime,
                CimDataType.Reference => CimType.Reference,
                CimDataType.Instance => CimType.Instance,
                _ => CimType.String,
            };
            if (!p.IsArray) return scalar;
            return scalar switch
            {
                CimType.Boolean => CimType.BooleanArray,
                CimType.UInt8 => CimType.UInt8Array,
                CimType.SInt8 => CimType.SInt8Array,
                CimType.UInt16 => CimType.UInt16Array,
                CimType.SInt16 => CimType.SInt16Array,
                CimType.UInt32 => CimType.UInt32Array,
                CimType.SInt32 => CimType.SInt32Array,
                CimType.UInt64 => CimType.UInt64Array,
                CimType.SInt64 => CimType.SInt64Array,
                CimType.Real32 => CimType.Real32Array,
                CimType.Real64 => CimType.Real64Array,
                CimType.Char16 => CimType.Char16Array,
                CimType.DateTime => CimType.DateTimeArray,
                CimType.Reference => CimType.ReferenceArray,
                CimType.Instance => CimType.InstanceArray,
                _ => CimType.StringArray,
            };
        }

        private static (CimDataType Type, bool IsArray) FromMiType(CimType type) => type switch
        {
            CimType.Boolean => (CimDataType.Boolean, false),
            CimType.UInt8 => (CimDataType.UInt8, false),
            CimType.SInt8 => (CimDataType.SInt8, false),
            CimType.UInt16 => (CimDataType.UInt16, false),
            CimType.SInt16 => (CimDataType.SInt16, false),
            CimType.UInt32 => (CimDataType.UInt32, false),
            CimType.SInt32 => (CimDataType.SInt32, false),
            CimType.UInt64 => (CimDataType.UInt64, false),
            CimType.SInt64 => (CimDataType.SInt64, false),
            CimType.Real32 => (CimDataType.Real32, false),
            CimType.Real64 => (CimDataType.Real64, false),
            CimType.Char16 => (CimDataType.Char16, false),
            CimType.DateTime => (CimDataType.DateTime, false),
            CimType.Reference => (CimDataType.Reference, false),
            CimType.Instance => (CimDataType.Instance, false),
            CimType.BooleanArray => (CimDataType.Boolean, true),
            CimType.UInt8Array => (CimDataType.UInt8, true),
            CimType.SInt8Array => (CimDataType.SInt8, true),
            CimType.UInt16Array => (CimDataType.UInt16, true),
            CimType.SInt16Array => (CimDataType.SInt16, true),
            CimType.UInt32Array => (CimDataType.UInt32, true),
            CimType.SInt32Array => (CimDataType.SInt32, true),
            CimType.UInt64Array => (CimDataType.UInt64, true),
            CimType.SInt64Array => (CimDataType.SInt64, true),
            CimType.Real32Array => (CimDataType.Real32, true),
            CimType.Real64Array => (CimDataType.Real64, true),
            CimType.Char16Array => (CimDataType.Char16, true),
            CimType.DateTimeArray => (CimDataType.DateTime, true),
            CimType.ReferenceArray => (CimDataType.Reference, true),
            CimType.InstanceArray => (CimDataType.Instance, true),
            _ => (CimDataType.String, type == CimType.StringArray),
        };

        /// <summary>Maps an MI failure to the gateway's own exception, keeping the native code (the backend's translator does the rest).</summary>
        private static CimGatewayException Translate(CimException ex, string computerName, string operation)
        {
            var code = (CimErrorCode)(int)ex.NativeErrorCode;
            if (!Enum.IsDefined(typeof(CimErrorCode), code)) code = CimErrorCode.Failed;
            // WinRM transport failures surface as Failed with an HRESULT-style status (0x80338xxx) in the message.
            if (code == CimErrorCode.Failed && ex.StatusCode != 0 && ex.Message.IndexOf("WinRM", StringComparison.OrdinalIgnoreCase) >= 0)
                code = CimErrorCode.ConnectionFailed;
            return new CimGatewayException(code, computerName, operation, $"{operation} on host '{computerName}': {ex.Message}", ex);
        }
    }
}
