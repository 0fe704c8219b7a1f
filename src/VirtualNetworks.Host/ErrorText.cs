using System;
using System.Management.Automation;
using System.Text;

namespace VirtualNetworks.Host
{
    /// <summary>Plain-text rendering of an ErrorRecord in pwsh's NormalView layout (used when Out-Default cannot be).</summary>
    internal static class ErrorText
    {
        public static string Render(ErrorRecord record, Exception? exception = null)
        {
            var sb = new StringBuilder();
            string? position = record.InvocationInfo?.PositionMessage;
            string message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? exception?.Message ?? record.ToString();
            string? command = record.InvocationInfo?.MyCommand?.Name;
            if (!string.IsNullOrEmpty(command) && record.InvocationInfo?.MyCommand is CmdletInfo)
                sb.Append(command).Append(" : ");
            sb.Append(message);
            if (!string.IsNullOrEmpty(position))
                sb.Append('\n').Append(position);
            sb.Append("\n    + CategoryInfo          : ").Append(record.CategoryInfo.GetMessage());
            sb.Append("\n    + FullyQualifiedErrorId : ").Append(record.FullyQualifiedErrorId);
            return sb.ToString();
        }
    }
}
