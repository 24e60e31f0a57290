package protocol

import "context"

// Operation is one API operation with its wire types erased, so the router
// can decode an input, call the handler and encode the output for any service.
type Operation struct {
	// NewInput returns a pointer to a zero input shape to decode into.
	NewInput func() any
	// Call runs the handler with a decoded, validated input.
	Call func(ctx context.Context, in any) (any, error)
}

// Op erases the types of a handler. A nil handler gives a nil *Operation:
// the operation exists in the model but kumo does not implement it, and the
// router answers the not-implemented error.
func Op[I, O any](fn func(context.Context, *I) (*O, error)) *Operation {
	if fn == nil {
		return nil
	}
	return &Operation{
		NewInput: func() any { return new(I) },
		Call: func(ctx context.Context, in any) (any, error) {
			out, err := fn(ctx, in.(*I))
			if err != nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// Validatable is implemented by generated input shapes: it records every
// constraint the model states (required members, lengths, ranges, enums)
// that the value breaks.
type Validatable interface {
	Validate(v *Validator, path string)
}
