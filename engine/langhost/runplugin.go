// RunPlugin for the Node.js language host that scripts/engine/toolchain.sh builds from sdk/v3@v3.68.0,
// whose own RunPlugin is a stub ("not supported"). Engines since then run a Node.js policy pack through
// it (`pulumi preview --policy-pack DIR`), naming the pack's directory in RunPluginRequest.info, a field
// v3.68's protocol does not have: it is read from the message's unknown fields.
package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the newer protocol: RunPluginRequest.info (ProgramInfo) and .kind, and
// ProgramInfo.program_directory.
const (
	runPluginInfoField        protowire.Number = 5
	runPluginKindField        protowire.Number = 6
	programInfoDirectoryField protowire.Number = 2
)

// bytesField returns the first length-delimited field `want` of an encoded message, or nil.
func bytesField(b []byte, want protowire.Number) []byte {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if typ == protowire.BytesType {
			value, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil
			}
			if num == want {
				return value
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	return nil
}

func (host *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	unknown := req.ProtoReflect().GetUnknown()
	dir := string(bytesField(bytesField(unknown, runPluginInfoField), programInfoDirectoryField))
	if dir == "" {
		dir = req.GetProgram()
	}
	if dir == "" {
		return errors.New("RunPlugin: the request names no plugin directory")
	}
	// A policy pack ("analyzer") runs through the SDK's run-policy-pack, anything else through run-plugin,
	// both from the plugin's own node_modules: `node <runner> <engine address> .` in its directory.
	runner := "run-plugin"
	if string(bytesField(unknown, runPluginKindField)) == "analyzer" {
		runner = "run-policy-pack"
	}
	args := []string{filepath.Join(dir, "node_modules", "@pulumi", "pulumi", "cmd", runner)}
	args = append(args, req.GetArgs()...)
	args = append(args, ".")
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), req.GetEnv()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}

	var sendLock sync.Mutex
	send := func(resp *pulumirpc.RunPluginResponse) error {
		sendLock.Lock()
		defer sendLock.Unlock()
		return server.Send(resp)
	}
	forward := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse, done *sync.WaitGroup) {
		defer done.Done()
		buf := make([]byte, 4096)
		for {
			n, readErr := r.Read(buf)
			if n > 0 {
				chunk := append([]byte(nil), buf[:n]...)
				if send(wrap(chunk)) != nil {
					return
				}
			}
			if readErr != nil {
				return
			}
		}
	}
	var streams sync.WaitGroup
	streams.Add(2)
	go forward(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	}, &streams)
	go forward(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	}, &streams)
	streams.Wait()

	code := 0
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = exit.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}
