namespace VirtualNetworks
{
    /// <summary>
    /// Engine-side error categories. Names match System.Management.Automation.ErrorCategory members one to one,
    /// so the cmdlet layer maps them by name without the engine referencing PowerShell.
    /// </summary>
    public enum ErrorKind
    {
        NotSpecified = 0,
        InvalidArgument,
        InvalidData,
        InvalidOperation,
        InvalidType,
        ObjectNotFound,
        ResourceExists,
        ResourceUnavailable,
        PermissionDenied,
        NotImplemented,
        NotInstalled,
        ParserError,
        SyntaxError,
        LimitsExceeded,
        OperationStopped,
        OperationTimeout,
        ConnectionError,
        DeviceError,
        InvalidResult,
        NotEnabled,
        QuotaExceeded,
    }
}
