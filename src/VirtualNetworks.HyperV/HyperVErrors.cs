using System;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>Stable error ids of the Hyper-V backend (they appear in FullyQualifiedErrorId; never rename one).</summary>
    public static class HyperVErrorIds
    {
        public const string NotInstalled = "HyperVNotInstalled";
        public const string AccessDenied = "HyperVAccessDenied";
        public const string ConnectionFailed = "HyperVConnectionFailed";
        public const string ObjectNotFound = "HyperVObjectNotFound";
        public const string QueryFailed = "HyperVQueryFailed";
        public const string MethodFailed = "HyperVMethodFailed";
        public const string JobFailed = "HyperVJobFailed";
        public const string JobTimeout = "HyperVJobTimeout";
        public const string AmbiguousRouter = "HyperVAmbiguousRouter";
        public const string SwitchNotOwned = "HyperVSwitchNotOwned";
        public const string GuestShutdownUnavailable = "HyperVGuestShutdownUnavailable";
        public const string ShutdownTimeout = "HyperVShutdownTimeout";
        public const string StateNotReached = "HyperVStateNotReached";
        public const string CrossHostLink = "HyperVCrossHostLink";
        public const string VlanInUse = "HyperVVlanInUse";
        public const string VlanExhausted = "HyperVVlanExhausted";
        public const string InvalidOption = "HyperVInvalidOption";
        public const string BandwidthNotApplied = "HyperVBandwidthNotApplied";
        public const string LinkStateNotApplied = "HyperVLinkStateNotApplied";
        public const string OrphanChanged = "HyperVOrphanChanged";
        public const string TransportSwitchMissing = "HyperVTransportSwitchMissing";
        public const string MigrationNotEnabled = "HyperVMigrationNotEnabled";
        public const string NotMigratable = "HyperVNotMigratable";
        public const string MigrationFailed = "HyperVMigrationFailed";
        /// <summary>A guest command over KVP (batched probe, routes, routing) got no answer within its bound.</summary>
        public const string GuestNoAnswer = "HyperVGuestNoAnswer";
        /// <summary>A guest answered a KVP command with something that is not of the documented shape, or failed it.</summary>
        public const string GuestAnswerInvalid = "HyperVGuestAnswerInvalid";
    }

    /// <summary>
    /// The one translator from gateway failures to <see cref="VirtualNetworksException"/>: the message names the operation
    /// ("Creating router 'r2'"), the failing step ("AddResourceSettings (attach disk)") and the host; the inner
    /// exception is kept.
    /// </summary>
    public static class HyperVErrors
    {
        public static VirtualNetworksException Translate(Exception ex, string operation, string step, string host, string? target)
        {
            if (ex is VirtualNetworksException vn) return vn;
            string prefix = operation + ": " + step + " failed on host " + host + ": ";
            switch (ex)
            {
                case CimGatewayException g:
                    {
                        var (id, kind, hint) = g.Code switch
                        {
                            CimErrorCode.InvalidNamespace => (HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled,
                                "Hyper-V is not installed (namespace root\\virtualization\\v2 is missing): enable the Hyper-V role (Install-WindowsFeature Hyper-V -IncludeManagementTools, or Enable-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V-All)."),
                            CimErrorCode.InvalidClass => (HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled,
                                "the Hyper-V WMI provider does not know this class: Hyper-V is missing or too old (Windows Server 2016 or later is needed)."),
                            CimErrorCode.AccessDenied => (HyperVErrorIds.AccessDenied, ErrorKind.PermissionDenied,
                                "access denied: run PowerShell elevated (as Administrator) or join the Hyper-V Administrators group."),
                            CimErrorCode.NotFound => (HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound, "the object no longer exists (it may have been removed meanwhile); run the command again."),
                            CimErrorCode.ConnectionFailed => (HyperVErrorIds.ConnectionFailed, ErrorKind.ConnectionError,
                                "the host cannot be reached: check the name, WinRM (Enable-PSRemoting) and the credentials."),
                            CimErrorCode.ServerIsShuttingDown => (HyperVErrorIds.ConnectionFailed, ErrorKind.ConnectionError, "the host's WMI service is shutting down."),
                            CimErrorCode.NotSupported => (HyperVErrorIds.QueryFailed, ErrorKind.NotImplemented, "the operation is not supported by this host."),
                            _ => (HyperVErrorIds.QueryFailed, ErrorKind.InvalidResult, "CIM error " + g.Code + "."),
                        };
                        return new VirtualNetworksException(id, kind, target ?? host, prefix + hint + " (" + g.Operation + ": " + g.Message + ")", ex)
                        {
                            RecommendedAction = kind == ErrorKind.PermissionDenied ? "Run elevated or join the Hyper-V Administrators group." :
                                kind == ErrorKind.NotInstalled ? "Install the Hyper-V role on the host." : null,
                        };
                    }
                case CimMethodException m:
                    {
                        string detail = m.Message;
                        if (m.Errors.Count > 0 && !m.Errors.All(e => detail.Contains(e))) detail += " " + string.Join(" ", m.Errors);
                        string id = m.TimedOut ? HyperVErrorIds.JobTimeout : m.ReturnValue == CimJobs.JobStarted ? HyperVErrorIds.JobFailed : HyperVErrorIds.MethodFailed;
                        var kind = m.TimedOut ? ErrorKind.OperationTimeout
                            : m.ReturnValue == 32769 ? ErrorKind.PermissionDenied
                            : m.ReturnValue == 32779 ? ErrorKind.ObjectNotFound
                            : m.ReturnValue == 5 || m.ReturnValue == 32775 ? ErrorKind.InvalidOperation
                            : ErrorKind.InvalidResult;
                        return new VirtualNetworksException(id, kind, target ?? host, prefix + detail, ex);
                    }
                case OperationCanceledException _:
                    return new VirtualNetworksException(ErrorIds.OperationCanceled, ErrorKind.OperationStopped, target ?? host, operation + ": cancelled during " + step + ".", ex);
                default:
                    return new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.NotSpecified, target ?? host, prefix + ex.Message, ex);
            }
        }

        public static VirtualNetworksException Error(string id, ErrorKind kind, string? target, string message, string? hint = null) =>
            new VirtualNetworksException(id, kind, target, message) { RecommendedAction = hint };
    }
}
