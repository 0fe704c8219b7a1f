using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>How long and how often <see cref="CimJobs.Complete"/> polls a job.</summary>
    public sealed class CimJobPolicy
    {
        public TimeSpan FirstPoll { get; set; } = TimeSpan.FromMilliseconds(20);
        public TimeSpan MaxPoll { get; set; } = TimeSpan.FromMilliseconds(250);
        /// <summary>A job still running after this is an error (it is not cancelled: Hyper-V may still finish it).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);

        public static CimJobPolicy Default { get; } = new CimJobPolicy();
    }

    /// <summary>
    /// A Hyper-V method or job that failed: the method, its return value, and for jobs the job's ErrorCode,
    /// ErrorDescription and the Msvm_Error messages of GetErrorEx (fact sheet §7).
    /// </summary>
    public sealed class CimMethodException : Exception
    {
        public CimMethodException(string computerName, CimReference target, string method, uint returnValue, string message,
            ushort? jobErrorCode = null, string? jobErrorDescription = null, IReadOnlyList<string>? errors = null, bool timedOut = false,
            CimObject? job = null)
            : base(message)
        {
            Job = job;
            ComputerName = computerName;
            Target = target;
            Method = method;
            ReturnValue = returnValue;
            JobErrorCode = jobErrorCode;
            JobErrorDescription = jobErrorDescription;
            Errors = errors ?? Array.Empty<string>();
            TimedOut = timedOut;
        }

        public string ComputerName { get; }
        public CimReference Target { get; }
        public string Method { get; }
        /// <summary>The method's return value (4096 when the job, not the call, failed).</summary>
        public uint ReturnValue { get; }
        /// <summary>Msvm_ConcreteJob.ErrorCode of a failed job.</summary>
        public ushort? JobErrorCode { get; }
        public string? JobErrorDescription { get; }
        /// <summary>Msvm_Error.Message texts from the job's GetErrorEx (or GetError).</summary>
        public IReadOnlyList<string> Errors { get; }
        public bool TimedOut { get; }
        /// <summary>The failed job as last read (JobState, ErrorCode, Msvm_StorageJob.JobCompletionStatusCode, ...), or null.</summary>
        public CimObject? Job { get; }
    }

    /// <summary>
    /// The fifth gateway operation: turn a method result into "done" or an exception. 0 = done; 4096 = poll the job
    /// until it reaches a final state (<see cref="IsFinal"/>): 7 Completed (and 32768, which Microsoft's samples and
    /// os-win read as CompletedWithWarnings) succeeds, 8 Terminated, 9 Killed and 10 Exception fail with ErrorCode,
    /// ErrorDescription and GetErrorEx. A Completed job with a non-zero ErrorCode is read both ways the sources read it
    /// (<see cref="CompletedWithError"/>). Fact sheet §7, pitfalls 9, 10; docs/hyperv-backend.md §7.1.
    /// </summary>
    public static class CimJobs
    {
        public const uint Completed = 0;
        public const uint JobStarted = 4096;

        /// <summary>Polls counted since process start (the benchmarks read it through the simulator's counters instead).</summary>
        public static CimMethodResult Complete(this ICimGateway gateway, CimReference target, string method, CimMethodResult result,
            CancellationToken cancellationToken, CimJobPolicy? policy = null, Action<int>? percentComplete = null,
            params uint[] alsoSuccessful)
        {
            if (result.ReturnValue == Completed || alsoSuccessful.Contains(result.ReturnValue)) return result;
            if (result.ReturnValue != JobStarted)
                throw new CimMethodException(gateway.ComputerName, target, method, result.ReturnValue,
                    $"{method} on {target.ClassName} failed on host '{gateway.ComputerName}': return value {result.ReturnValue} ({CimReturnCodes.Describe(method, result.ReturnValue)}).");
            var job = result.Job ?? throw new CimMethodException(gateway.ComputerName, target, method, result.ReturnValue,
                $"{method} on host '{gateway.ComputerName}' answered 4096 (job started) without a Job reference.");
            WaitForJob(gateway, target, method, job, cancellationToken, policy, percentComplete);
            return result;
        }

        /// <summary>Invokes and completes in one call.</summary>
        public static CimMethodResult InvokeAndWait(this ICimGateway gateway, CimReference target, string method,
            IReadOnlyList<CimMethodParameter> parameters, CancellationToken cancellationToken, CimJobPolicy? policy = null,
            params uint[] alsoSuccessful)
        {
            var result = gateway.InvokeMethod(target, method, parameters, cancellationToken);
            return gateway.Complete(target, method, result, cancellationToken, policy, null, alsoSuccessful);
        }

        /// <summary>Polls <paramref name="job"/> until it ends; returns the final job instance or throws.</summary>
        public static CimObject WaitForJob(this ICimGateway gateway, CimReference target, string method, CimReference job,
            CancellationToken cancellationToken, CimJobPolicy? policy = null, Action<int>? percentComplete = null)
        {
            policy ??= CimJobPolicy.Default;
            var clock = Stopwatch.StartNew();
            var delay = policy.FirstPoll;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var current = gateway.GetInstance(job, cancellationToken);
                if (current == null)
                    throw new CimMethodException(gateway.ComputerName, target, method, JobStarted,
                        $"The job of {method} on host '{gateway.ComputerName}' disappeared before it was seen to end; its outcome is unknown " +
                        "(jobs are removed 5 minutes after they end). Re-run the command: it re-reads what exists.");
                ushort state = current.GetUInt16("JobState") ?? 0;
                if (IsFinal(state))
                {
                    ushort error = current.GetUInt16("ErrorCode") ?? 0;
                    bool completed = state == 7 || state == 32768;
                    if (completed && error == 0) return current;
                    var messages = ReadErrors(gateway, job, cancellationToken);
                    if (completed && !CompletedWithError(current, messages)) return current;
                    string description = current.GetString("ErrorDescription") ?? current.GetString("ErrorSummaryDescription") ?? "";
                    string detail = messages.Count > 0 ? string.Join(" ", messages) : description;
                    throw new CimMethodException(gateway.ComputerName, target, method, JobStarted,
                        $"{method} on host '{gateway.ComputerName}' failed: job state {state} ({JobStateName(state)}), error code {error}" +
                        (string.IsNullOrEmpty(detail) ? "." : ": " + detail),
                        error, description, messages, job: current);
                }
                if (percentComplete != null && current.GetUInt16("PercentComplete") is ushort pc) percentComplete(pc);
                if (clock.Elapsed > policy.Timeout)
                    throw new CimMethodException(gateway.ComputerName, target, method, JobStarted,
                        $"{method} on host '{gateway.ComputerName}' did not finish within {policy.Timeout.TotalSeconds:0} s (job state {state}); " +
                        "it was not cancelled and may still complete.", timedOut: true);
                if (cancellationToken.WaitHandle.WaitOne(delay)) cancellationToken.ThrowIfCancellationRequested();
                delay = TimeSpan.FromTicks(Math.Min(policy.MaxPoll.Ticks, delay.Ticks * 2));
            }
        }

        /// <summary>
        /// Whether a job has stopped for good. CIM_ConcreteJob.JobState (microsoft/wmi server2019 and server23h2
        /// CIM_ConcreteJob.go; msvm-concretejob): 2 New, 3 Starting, 4 Running, 5 Suspended, 6 Shutting Down are in
        /// progress; 7 Completed, 8 Terminated, 9 Killed, 10 Exception are final; 11 Service ("a vendor-specific state
        /// that supports problem discovery, or resolution") and 12 Query Pending ("waiting for a client to resolve a
        /// query") are not final either, nor are the reserved values above them, so they are waited out (up to the
        /// timeout), as Microsoft's own client does (pkg/wmiinstance/WmiJob.go IsComplete). 32768 is final (Completed
        /// with warnings in Microsoft's samples and os-win). 0/1 (no state) is final: it is reported as a failure.
        /// </summary>
        public static bool IsFinal(ushort state) => state < 2 || (state >= 7 && state <= 10) || state == 32768;

        /// <summary>
        /// A Completed job whose ErrorCode is not 0. The sources disagree: CIM_Job.ErrorCode "must be set to zero if the
        /// Job completed without error", and os-win fails such a job; Microsoft's Go library reads every Completed job
        /// as a success ("Completed (7) indicates that the job has completed normally"). The job itself decides: it
        /// failed when GetErrorEx returns Msvm_Error instances (documented to return none for a job that "has terminated
        /// without error": geterrorex-msvm-concretejob) or when OperationalStatus says Error / Non-Recoverable Error
        /// (CIM_ManagedSystemElement: "Completed" is combined with OK, Error or Degraded so a client can tell whether the
        /// operation passed or failed); otherwise it completed normally with an informational code.
        /// </summary>
        public static bool CompletedWithError(CimObject job, IReadOnlyList<string> errorMessages) =>
            errorMessages.Count > 0 || job.GetUInt16s("OperationalStatus").Any(s => s == 6 || s == 7);

        /// <summary>Msvm_Error messages of a failed job: GetErrorEx, else GetError; never throws.</summary>
        public static IReadOnlyList<string> ReadErrors(ICimGateway gateway, CimReference job, CancellationToken cancellationToken)
        {
            foreach (var (method, output) in new[] { ("GetErrorEx", "Errors"), ("GetError", "Error") })
            {
                try
                {
                    var r = gateway.InvokeMethod(job, method, Array.Empty<CimMethodParameter>(), cancellationToken);
                    if (r.ReturnValue != 0) continue;
                    var texts = new List<string>();
                    foreach (var item in Flatten(r[output]))
                    {
                        CimObject? error = item as CimObject;
                        if (error == null && item is string s && s.Length > 0)
                        {
                            try { error = CimXml.Read(s); }
                            catch (FormatException) { texts.Add(s); continue; }
                        }
                        var message = error?.GetString("Message");
                        if (!string.IsNullOrWhiteSpace(message)) texts.Add(message!.Trim());
                    }
                    if (texts.Count > 0) return texts;
                }
                catch (CimGatewayException)
                {
                }
            }
            return Array.Empty<string>();
        }

        private static IEnumerable<object?> Flatten(object? value)
        {
            if (value == null) yield break;
            if (value is string) { yield return value; yield break; }
            if (value is System.Collections.IEnumerable many) foreach (var v in many) yield return v;
            else yield return value;
        }

        public static string JobStateName(ushort state) => state switch
        {
            2 => "New",
            3 => "Starting",
            4 => "Running",
            5 => "Suspended",
            6 => "Shutting Down",
            7 => "Completed",
            8 => "Terminated",
            9 => "Killed",
            10 => "Exception",
            11 => "Service",
            12 => "Query Pending",
            32768 => "Completed with warnings",
            _ => "unknown",
        };
    }

    /// <summary>Meanings of method return values (fact sheet §7: the two families).</summary>
    public static class CimReturnCodes
    {
        private static readonly HashSet<string> ServiceFamily = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "DefineSystem", "DestroySystem", "ModifySystemSettings", "ModifyResourceSettings", "AddResourceSettings",
            "RemoveResourceSettings", "AddFeatureSettings", "ModifyFeatureSettings", "RemoveFeatureSettings",
            "GetSummaryInformation", "CheckVirtualSystemIsMigratableToHost",
        };

        public static string Describe(string method, uint code)
        {
            if (code == 0) return "Completed";
            if (code == 4096) return "Job started";
            if (ServiceFamily.Contains(method))
            {
                switch (code)
                {
                    case 1: return "Not supported";
                    case 2: return "Failed";
                    case 3: return "Timeout";
                    case 4: return "Invalid parameter";
                    case 5: return "Invalid state";
                    case 6: return "Incompatible parameters";
                }
            }
            switch (code)
            {
                case 32768: return "Failed";
                case 32769: return "Access denied";
                case 32770: return "Not supported";
                case 32771: return "Status is unknown";
                case 32772: return "Timeout";
                case 32773: return "Invalid parameter";
                case 32774: return "System is in use";
                case 32775: return "Invalid state for this operation";
                case 32776: return "Incorrect data type";
                case 32777: return "System is not available";
                case 32778: return "Out of memory";
                case 32779: return "File not found";
                case 32784: return "Not compatible";
            }
            return "undocumented value";
        }
    }
}
